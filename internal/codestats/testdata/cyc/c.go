package cyc

func (t *T) C() int { return helperB() }

func helperC() int { return 2 }

func lone() int { return len("d") }
