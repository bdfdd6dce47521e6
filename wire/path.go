package wire

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidPath is wrapped by ValidatePath errors.
var ErrInvalidPath = errors.New("invalid path")

// PathError explains why a path was rejected.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string {
	return "Invalid path string \"" + e.Path + "\" caused by " + e.Reason
}
func (e *PathError) Unwrap() error { return ErrInvalidPath }

// ValidatePath applies ZooKeeper's path rules (PathUtils.validatePath). A
// sequential path is checked as if a digit were appended, since the server
// appends the sequence number. Java checks UTF-16 units, so any character
// outside the BMP (a surrogate pair) and any undecodable byte (read by Java
// as U+FFFD) is invalid.
func ValidatePath(path string, sequential bool) error {
	if sequential {
		path += "1"
	}
	if len(path) == 0 {
		return &PathError{path, "Path length must be > 0"}
	}
	if path[0] != '/' {
		return &PathError{path, "Path must start with / character"}
	}
	if len(path) == 1 {
		return nil
	}
	if path[len(path)-1] == '/' {
		return &PathError{path, "Path must not end with / character"}
	}
	var last rune = '/'
	var last2 rune
	idx := 0 // UTF-16 index, as Java reports it
	for i := 1; i < len(path); {
		c, size := utf8.DecodeRuneInString(path[i:])
		idx++
		next := i + size
		atEnd := next == len(path)
		nextIsSlash := !atEnd && path[next] == '/'
		switch {
		case c == 0:
			return &PathError{path, "null character not allowed @" + strconv.Itoa(idx)}
		case c == '/' && last == '/':
			return &PathError{path, "empty node name specified @" + strconv.Itoa(idx)}
		case c == '.' && last == '.':
			if last2 == '/' && (atEnd || nextIsSlash) {
				return &PathError{path, "relative paths not allowed @" + strconv.Itoa(idx)}
			}
		case c == '.':
			if last == '/' && (atEnd || nextIsSlash) {
				return &PathError{path, "relative paths not allowed @" + strconv.Itoa(idx)}
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0 && c <= 0xffff, c > 0xffff,
			c == utf8.RuneError && size == 1:
			return &PathError{path, "invalid character @" + strconv.Itoa(idx)}
		}
		last2, last = last, c
		i = next
	}
	return nil
}

// ParentPath returns the parent of a valid non-root path ("/" for "/a").
func ParentPath(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// BaseName returns the last component of a valid non-root path.
func BaseName(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// JoinPath appends a child name to a parent path.
func JoinPath(parent, child string) string {
	if parent == "/" {
		return "/" + child
	}
	return parent + "/" + child
}
