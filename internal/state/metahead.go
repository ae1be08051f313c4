package state

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// headEntry is entry for CurrentMeta: it decodes only the head of the
// generation file, the keys before "ruleset" (writeGeneration puts the
// metadata first), reading a few kilobytes of a file that may hold
// hundreds of megabytes. A file damaged after its head reads as intact
// here; Load, which every user of the ruleset goes through, finds it.
func (s *Store) headEntry(id int) Entry {
	path := s.GenerationFile(id)
	fail := func(err error) Entry { return Entry{Meta: Meta{ID: id}, Err: &CorruptError{Path: path, Err: err}} }
	if err := s.CheckDir(); err != nil {
		return fail(err)
	}
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if m, ok := s.head.get(path, fi); ok {
		return Entry{Meta: m}
	}
	m, err := decodeHead(f)
	if err != nil {
		return fail(err)
	}
	s.head.put(path, fi, m)
	return Entry{Meta: m}
}

// decodeHead decodes the metadata of the generation record that r starts
// with from its keys before "ruleset" (all of them if there is none),
// as json.Unmarshal would decode them into a Meta.
func decodeHead(r io.Reader) (Meta, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil {
		return Meta{}, eofError(err)
	} else if tok != json.Delim('{') {
		return Meta{}, fmt.Errorf("a generation record is a JSON object, not %v", tok)
	}
	head := map[string]json.RawMessage{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return Meta{}, eofError(err)
		}
		if tok == json.Delim('}') {
			break
		}
		key, _ := tok.(string) // a key is a string, or Token fails
		if key == "ruleset" {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Meta{}, eofError(err)
		}
		head[key] = v
	}
	b, err := json.Marshal(head)
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// eofError is the error json.Unmarshal gives for a record that ends early.
func eofError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// PolicySource returns the policy source stored with generation id
// (policy.yaml), without reading its record.
func (s *Store) PolicySource(id int) ([]byte, error) {
	b, err := s.readFile(filepath.Join(s.genDir(id), "policy.yaml"))
	if err != nil {
		return nil, fmt.Errorf("state: generation %d: %w", id, err)
	}
	return b, nil
}
