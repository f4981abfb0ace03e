//go:build !race

package revision

const raceEnabled = false
