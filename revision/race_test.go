//go:build race

package revision

const raceEnabled = true
