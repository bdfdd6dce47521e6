package cyc

// T is the type whose fields and methods are counted.
type T struct {
	x, y int
	z    string
}

func (t *T) A() int { return t.B() + helperC() }
