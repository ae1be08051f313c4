package state

import (
	"os"
)

// Entry is one generation in the history. Err is set, and Meta holds only
// the ID, when the generation's metadata cannot be read.
type Entry struct {
	Meta
	Err error
}

// History lists the stored generations, oldest first, without their
// rulesets. A damaged generation is listed with its error rather than
// failing the whole listing.
func (s *Store) History() ([]Entry, error) {
	ids, err := s.IDs()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.entry(id))
	}
	return out, nil
}

// CurrentMeta returns the metadata of the generation in force, reading only
// the head of its record (headEntry: a few kilobytes, whatever the size of
// the ruleset), or the error Current would give for a record whose head is
// unreadable.
func (s *Store) CurrentMeta() (*Meta, error) {
	id, err := s.CurrentID()
	if err != nil {
		return nil, err
	}
	e := s.headEntry(id)
	if e.Err != nil {
		return nil, e.Err
	}
	return &e.Meta, nil
}

func (s *Store) entry(id int) Entry {
	path := s.GenerationFile(id)
	var fi os.FileInfo
	if s.CheckDir() == nil {
		if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
			if m, ok := s.meta.get(path, st); ok {
				return Entry{Meta: m}
			}
			fi = st
		}
	}
	b, err := s.readFile(path)
	if err != nil {
		return Entry{Meta: Meta{ID: id}, Err: &CorruptError{Path: path, Err: err}}
	}
	var m Meta
	if err := decodeRecord(s, path, b, &m); err != nil {
		return Entry{Meta: Meta{ID: id}, Err: &CorruptError{Path: path, Err: err}}
	}
	if fi != nil {
		s.meta.put(path, fi, m)
	}
	return Entry{Meta: m}
}
