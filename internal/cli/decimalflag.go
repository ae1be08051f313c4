package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/leash-dev/leash/internal/decimal"
)

// decimalFlag is an integer flag read as plain decimal only, from 0 to max.
// pflag's own integer flags parse with base 0, so `--uid 01001` would be
// uid 513 and `--max-size 0x10` 16; here every other spelling is refused
// with the decimal meant, as in a policy file. The default (possibly -1 for
// "not given") is never parsed.
type decimalFlag[T int | int64] struct {
	v   *T
	max uint64
}

// decimalVar defines flag name on fs with default value and usage, like
// pflag's IntVar and Int64Var.
func decimalVar[T int | int64](fs *pflag.FlagSet, p *T, name string, value T, max uint64, usage string) {
	*p = value
	fs.Var(decimalFlag[T]{v: p, max: max}, name, usage)
}

func (f decimalFlag[T]) String() string {
	if f.v == nil {
		return ""
	}
	return strconv.FormatInt(int64(*f.v), 10)
}

func (f decimalFlag[T]) Set(s string) error {
	n, err := decimalUpTo(s, f.max)
	if err != nil {
		return err
	}
	*f.v = T(n)
	return nil
}

// decimalUpTo reads a command-line number: plain decimal (else the
// spelling's complaint, naming the decimal meant) from 0 to max.
func decimalUpTo(s string, max uint64) (uint64, error) {
	n, err := decimal.Parse(s)
	switch {
	case decimal.Spelling(err):
		return 0, err
	case err != nil || n > max:
		return 0, fmt.Errorf("not a number from 0 to %d", max)
	}
	return n, nil
}

func (f decimalFlag[T]) Type() string { return "N" }
