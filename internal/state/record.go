package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// readRecord reads the small JSON record at path (the intent, the pending
// confirmation): nil when there is none, a *CorruptError when it does not
// decode, is of a newer format (checkFormat) or complete(v) reports it
// incomplete.
func readRecord[T any](s *Store, path string, complete func(*T) bool) (*T, error) {
	b, err := s.readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	var f struct {
		Format int `json:"format"`
	}
	_ = json.Unmarshal(b, &f) // decoded above: it decodes
	if err := checkFormat(path, f.Format); err != nil {
		return nil, err
	}
	if !complete(v) {
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("incomplete record %s", b)}
	}
	return v, nil
}

// writeRecord replaces the JSON record at path atomically; what names it
// in errors ("pending confirmation").
func (s *Store) writeRecord(path, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("state: encode %s: %w", what, err)
	}
	return s.writeAtomic(path, append(b, '\n'))
}
