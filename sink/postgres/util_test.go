package postgres

import "math"

func nanf() float64 { return math.NaN() }
func inf() float64  { return math.Inf(1) }
