package javatime

// Locale selects the names of months, days, eras and quarters.
type Locale uint8

// The locales ksqlDB's functions use: Root (Locale.ROOT, which
// StringToTimestampParser parses with) and English (the JVM default of
// ksqlDB's images, which the format functions and PARSE_TIME use).
const (
	English Locale = iota
	Root
)

var (
	monthsFull   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	monthsShort  = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	monthsNarrow = []string{"J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"}
	monthsDigits = []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	daysFull     = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	daysShort    = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	daysNarrow   = []string{"M", "T", "W", "T", "F", "S", "S"}
	quartersQ    = []string{"Q1", "Q2", "Q3", "Q4"}
	quartersFull = []string{"1st quarter", "2nd quarter", "3rd quarter", "4th quarter"}
	quartersNum  = []string{"1", "2", "3", "4"}
	ampm         = []string{"AM", "PM"}
)

// texts returns the names of a text field's values, the first being the
// field's smallest value (month 1, Monday, era BC, AM, quarter 1), as
// Java 17 with its CLDR data gives them.
func texts(f field, style textStyle, alone bool, loc Locale) []string {
	switch f {
	case fMonthOfYear:
		switch {
		case style == styleNarrow && loc == Root:
			return monthsDigits
		case style == styleNarrow:
			return monthsNarrow
		case style == styleFull && loc == English:
			return monthsFull
		}
		return monthsShort
	case fDayOfWeek:
		switch {
		case style == styleNarrow:
			return daysNarrow
		case style == styleFull && loc == English:
			return daysFull
		}
		return daysShort
	case fEra:
		switch {
		case style == styleShort:
			return []string{"BC", "AD"}
		case loc == Root:
			return []string{"BCE", "CE"}
		case style == styleFull:
			return []string{"Before Christ", "Anno Domini"}
		}
		return []string{"B", "A"}
	case fQuarterOfYear:
		switch {
		case style == styleNarrow:
			return quartersNum
		case loc == English && style == styleFull:
			return quartersFull
		case loc == Root && alone && style == styleShort:
			return quartersNum
		}
		return quartersQ
	case fAmPmOfDay:
		return ampm
	}
	return nil
}

// textBase is the value of a text field's first name.
func textBase(f field) int64 {
	switch f {
	case fEra, fAmPmOfDay:
		return 0
	}
	return 1
}
