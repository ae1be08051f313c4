package policy

import (
	"github.com/goccy/go-yaml/token"
)

// Limits on the shape of a policy file, checked on the YAML tokens before
// the YAML parser builds a tree. The parser's time and memory grow with the
// square of the flow nesting depth and of the number of keys in one block
// mapping (100,000 `[` take a minute and gigabytes; 20,000 keys a second and
// 1.6 GB), so a malformed or hostile file could stall `leash apply`. Real
// policies stay far below both limits.
const (
	// maxFlowDepth bounds the nesting of [...] and {...}.
	maxFlowDepth = 64
	// maxMappingKeys bounds the keys of one block mapping.
	maxMappingKeys = 1000
)

// keyCount counts the keys of the block mapping whose keys are at column col.
type keyCount struct{ col, n int }

// checkLimits reports the first place where tokens exceed maxFlowDepth or
// maxMappingKeys and returns false; true if the file is within them.
func (p *parser) checkLimits(tokens token.Tokens) bool {
	var (
		depth    int
		open     []keyCount // block mappings open on the current line, by ascending column
		lastLine int
		prev     *token.Token
	)
	for _, tk := range tokens {
		if tk == nil || tk.Position == nil {
			continue
		}
		if tk.Position.Line != lastLine {
			// A line starting left of a mapping's keys ends that mapping.
			lastLine = tk.Position.Line
			for len(open) > 0 && open[len(open)-1].col > tk.Position.Column {
				open = open[:len(open)-1]
			}
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > maxFlowDepth {
				p.errorf(p.tokenPos(tk), "[ and { are nested more than %d deep; a policy needs a few levels at most", maxFlowDepth)
				return false
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		case token.MappingValueType:
			if depth == 0 && prev != nil && prev.Position != nil {
				if open = countKey(open, prev.Position.Column); open[len(open)-1].n > maxMappingKeys {
					p.errorf(p.tokenPos(prev), "more than %d keys in one mapping; leash reads at most %d (a policy has a handful: version, policies, ...; merge destination lists or hosts)", maxMappingKeys, maxMappingKeys)
					return false
				}
			}
		}
		if tk.Type != token.CommentType {
			prev = tk
		}
	}
	return true
}

// countKey counts a key at column col in open and returns open.
func countKey(open []keyCount, col int) []keyCount {
	for len(open) > 0 && open[len(open)-1].col > col {
		open = open[:len(open)-1]
	}
	if len(open) > 0 && open[len(open)-1].col == col {
		open[len(open)-1].n++
		return open
	}
	return append(open, keyCount{col: col, n: 1})
}
