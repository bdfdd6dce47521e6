//go:build !zabsabotage

package zab

// sabotaged is false outside zabsabotage builds.
func sabotaged(sabotage) bool { return false }
