package policy

// The AST of a policy file, as produced by Parse. It holds the file's
// structure with a position on every element; values are still text (a
// port, a CIDR, a user name) and get their meaning in Resolve. A nil pointer
// or nil slice means the key was absent (or null).

// File is a parsed policy file.
type File struct {
	Name         string
	Version      *Scalar
	Baseline     *BaselineDecl
	Destinations []*DestListDecl // in file order
	Policies     []*PolicyDecl   // in file order
	Tests        *TestsDecl      // nil when absent; used by `leash test` only
	// Warnings are what Parse found worth a word in a valid file (see
	// Warning); Resolve adds its own and returns them in Resolved.Lint.
	Warnings []Warning
}

// ScalarKind is the YAML type of a scalar.
type ScalarKind int

// Scalar kinds.
const (
	KindString ScalarKind = iota
	KindInt
	KindBool
	KindFloat
	KindNull
)

// Scalar is one scalar value as written.
type Scalar struct {
	Pos  Pos
	Kind ScalarKind
	// Value is the scalar's value: a string's content, an integer as
	// written (not converted: see decimal.Form), "true" or "false".
	Value string
	// Raw is the value as written in the source, quotes included.
	Raw string
	// As is the key of a `users` or `groups` entry written as a one-key
	// mapping ({user: NAME}, {uid: N}, {group: NAME}, {gid: N}), which
	// says how the value is read; "" for a bare entry.
	As string
}

// BaselineDecl is the `baseline` mapping.
type BaselineDecl struct {
	Pos         Pos
	Loopback    *LoopbackDecl
	Established *Scalar
	Unowned     *Scalar
	// MulticastReports: limit, deny or allow (see MulticastMode).
	MulticastReports *Scalar
	Log              *LogDecl
	// OrphanMark: off or a hex mask; MPTCPJoins: deny or unowned
	// (orphans.go).
	OrphanMark *Scalar
	MPTCPJoins *Scalar
}

// LoopbackDecl is a `loopback` value: a word or a list of ports.
type LoopbackDecl struct {
	Pos   Pos
	Word  *Scalar   // allow, deny, rules, all, none; nil for a list
	Ports []*Scalar // the list form
}

// DestListDecl is one named destination list.
type DestListDecl struct {
	Pos     Pos // of the name
	Name    string
	Entries []*Scalar
}

// PolicyDecl is one entry of `policies`.
type PolicyDecl struct {
	Pos         Pos // of the entry (its first key)
	Name        *Scalar
	Users       []*Scalar
	Groups      []*Scalar
	Everyone    *Scalar // a KindBool scalar
	Units       []*Scalar
	Cgroups     []*Scalar
	Rules       []*RuleDecl
	Default     *Scalar
	Loopback    *LoopbackDecl
	Established *Scalar
	Log         *Scalar // a KindBool scalar
	// Hosts and Interfaces are the subjects of forwarded traffic (hosts.go).
	Hosts      []*Scalar
	Interfaces []*Scalar
	When       *WhenDecl
}

// RuleDecl is one rule: an action with optional destinations and ports. Empty
// To or Ports mean "everything".
type RuleDecl struct {
	Pos    Pos // of the action key
	Action Action
	To     []*Scalar
	Ports  []*Scalar
	Log    *Scalar // a KindBool scalar, nil if absent
	When   *WhenDecl
	Limit  *LimitDecl
	// ToPos and PortsPos are where the keys were written (zero if absent).
	ToPos, PortsPos Pos
	// Via are the interfaces an allow rule is limited to (hosts.go), ViaPos
	// where the key was written.
	Via    []*Scalar
	ViaPos Pos
}
