package compile

// group is a run of atoms evaluated as one step of a policy chain: one
// shared lookup (atoms of one shape) or one classic atom.
type group struct {
	shape   shape
	classic bool
	atoms   []*atom
}

// groupAtoms orders the atoms of a policy into groups, keeping first-match
// semantics: an atom joins the latest group of its shape when it is
// disjoint from every atom of the groups after that one (moving it there
// changes the verdict of no packet); otherwise it starts a new group.
// Classic atoms are groups of their own. The number of groups, and so of
// lookups per packet, grows with the number of shape changes between
// overlapping rules, not with the number of rules.
func groupAtoms(atoms []*atom) []*group {
	var groups []*group
	latest := map[shape]int{}
	for _, a := range atoms {
		if a.classic {
			groups = append(groups, &group{classic: true, atoms: []*atom{a}})
			continue
		}
		s := a.shape()
		if gi, ok := latest[s]; ok && passes(a, groups[gi+1:]) {
			groups[gi].atoms = append(groups[gi].atoms, a)
			continue
		}
		latest[s] = len(groups)
		groups = append(groups, &group{shape: s, atoms: []*atom{a}})
	}
	return groups
}

// passes reports whether a is disjoint from every atom of groups.
func passes(a *atom, groups []*group) bool {
	for _, g := range groups {
		for _, b := range g.atoms {
			if !disjoint(a, b) {
				return false
			}
		}
	}
	return true
}

// rules counts the distinct policy rules of g's atoms.
func (g *group) rules() int {
	n := 0
	for i, a := range g.atoms {
		if i == 0 || a.rule != g.atoms[i-1].rule {
			n++
		}
	}
	return n
}
