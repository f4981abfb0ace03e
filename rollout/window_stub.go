package rollout

import (
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/rollout/judge"
)

// TEMPORARY stub until the stats branch lands.
func PrimaryWindow(end, start observability.VersionCounts) (judge.Window, error) {
	return judge.Window{}, nil
}
func ShadowWindow(end, start observability.VersionCounts) (judge.Window, error) {
	return judge.Window{}, nil
}
