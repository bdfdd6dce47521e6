package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// StrictJSON checks that line is exactly one JSON value in which no object
// repeats a key. encoding/json accepts duplicate keys (the last one wins),
// so this walks the token stream and keeps one key set per open object.
func StrictJSON(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := strictValue(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("strict json: trailing data after the value (%v)", err)
	}
	return nil
}

func strictValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("strict json: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("strict json: %w", err)
			}
			k, ok := kt.(string)
			if !ok {
				return fmt.Errorf("strict json: object key %v is not a string", kt)
			}
			if seen[k] {
				return fmt.Errorf("strict json: duplicate key %q", k)
			}
			seen[k] = true
			if err := strictValue(dec); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
	case '[':
		for dec.More() {
			if err := strictValue(dec); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("strict json: unexpected %v", d)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("strict json: %w", err)
	}
	return nil
}
