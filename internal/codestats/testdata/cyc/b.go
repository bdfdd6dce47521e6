package cyc

func (t *T) B() int { return t.x + t.C() }

func helperB() int { return 1 }
