// Package decimal reads numbers written by people (policy files, command
// lines) as plain decimal only: digits, no sign, no leading zero (except 0
// itself), no digit separator, no base prefix. YAML 1.1 reads an unquoted
// 01001 as octal (513), 0x10 as 16, 0b11 as 3, 1_001 as 1001 and +1002 as
// 1002, and so do strconv's base 0 and pflag's integer flags, while the
// quoted "01001" is a string that would mean 1001: one Spelling, two
// numbers. Every other Spelling is refused with the decimal value probably
// meant.
package decimal

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Shaped reports whether s is spelled like a YAML integer in any base:
// an optional sign, then digits and underscores starting with a digit, or
// 0x/0o/0b and digits of that base. Such text is read as a number, never as
// a name.
func Shaped(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
		return allIn(s[2:], digitsOf(s[1])+"_")
	}
	return s != "" && s[0] >= '0' && s[0] <= '9' && allIn(s, "0123456789_")
}

// Form returns nil if s is a plain decimal number or starts with '-'
// (out of range for every number leash reads; the caller says so), and
// otherwise an error saying what is wrong with its spelling and which
// decimal number to write, e.g. "leading zeros are not allowed; write 443".
// s must be Shaped.
func Form(s string) error {
	if strings.HasPrefix(s, "-") || s == "0" || s != "" && s[0] != '0' && s[0] != '+' && !strings.Contains(s, "_") {
		return nil
	}
	sign, body := "", s
	if strings.HasPrefix(body, "+") {
		sign, body = "+", body[1:]
	}
	digits := strings.ReplaceAll(body, "_", "")
	base, what := 10, ""
	if len(digits) > 2 && digits[0] == '0' && strings.ContainsRune("xXoObB", rune(digits[1])) {
		switch digits[1] {
		case 'x', 'X':
			base, what = 16, "hexadecimal numbers are not allowed"
		case 'o', 'O':
			base, what = 8, "octal numbers are not allowed"
		default:
			base, what = 2, "binary numbers are not allowed"
		}
		digits = digits[2:]
	}
	switch {
	case what != "":
	case sign != "":
		what = "a + sign is not allowed"
	case strings.Contains(body, "_"):
		what = "digit separators (_) are not allowed"
	default:
		what = "leading zeros are not allowed"
	}
	v, ok := new(big.Int).SetString(digits, base)
	if !ok {
		return fmt.Errorf("%s; numbers are plain decimal", what)
	}
	return fmt.Errorf("%s; write %s", what, v.String())
}

// ErrNotDecimal is returned by Parse for text that is not a number
// at all, and ErrNegative for a negative one.
var (
	ErrNotDecimal = errors.New("not a number")
	ErrNegative   = errors.New("negative")
)

// Parse parses s as a plain decimal number of at most 64 bits. It
// returns ErrNotDecimal if s is not Shaped, ErrNegative or a
// strconv range error if it does not fit, and Form's error for any
// other spelling than plain decimal.
func Parse(s string) (uint64, error) {
	if !Shaped(s) {
		return 0, ErrNotDecimal
	}
	if strings.HasPrefix(s, "-") {
		return 0, ErrNegative
	}
	if err := Form(s); err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 64)
}

// Spelling reports whether err is Parse's complaint about how a
// number is spelled (rather than not a number, or out of range).
func Spelling(err error) bool {
	var ne *strconv.NumError
	return err != nil && !errors.Is(err, ErrNotDecimal) && !errors.Is(err, ErrNegative) && !errors.As(err, &ne)
}

// digitsOf returns the digits of the base named by prefix letter c.
func digitsOf(c byte) string {
	switch c {
	case 'x', 'X':
		return "0123456789abcdefABCDEF"
	case 'o', 'O':
		return "01234567"
	}
	return "01"
}

// allIn reports whether s is non-empty and every byte of s is in set.
func allIn(s, set string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(set, rune(s[i])) {
			return false
		}
	}
	return true
}
