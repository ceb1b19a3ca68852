// Package methods is this copy's one change to expr-lang (see
// ../../SLUICE.md): every method an expression calls is looked up here, by
// a constant name.
//
// A call of reflect's Type.Method, Type.MethodByName, Value.Method or
// Value.MethodByName with a name or index the compiler cannot see makes
// the Go linker keep every exported method of every type in the program
// (cmd/link's deadcode.go, "reflectSeen"): in sluice that was 20 MB of the
// executable, all of the AWS, Kafka, MongoDB and pgx APIs, and about
// 12 MB of resident memory. With a constant name the linker keeps only the
// methods of that name.
//
// Names lists the exported methods of the types sluice's expressions can
// hold values of: time.Time, *time.Time, time.Duration, time.Month,
// time.Weekday, *time.Location and processor/expr's Decimal (a test
// there, TestMethodNamesCover, fails when one is missing). A method whose
// name is not listed is not found, as if the type did not have it.
package methods

import "reflect"

// Names are the method names expressions can call, sorted.
var Names = []string{
	"Abs",
	"Add",
	"AddDate",
	"After",
	"AppendBinary",
	"AppendFormat",
	"AppendText",
	"Before",
	"Ceil",
	"Clock",
	"Cmp",
	"Compare",
	"Date",
	"Day",
	"Div",
	"Equal",
	"Float64",
	"Floor",
	"Format",
	"GoString",
	"GobDecode",
	"GobEncode",
	"Hour",
	"Hours",
	"ISOWeek",
	"In",
	"Int",
	"IsDST",
	"IsFinite",
	"IsZero",
	"Local",
	"Location",
	"MarshalBinary",
	"MarshalJSON",
	"MarshalText",
	"Microseconds",
	"Milliseconds",
	"Minute",
	"Minutes",
	"Mod",
	"Month",
	"Mul",
	"Nanosecond",
	"Nanoseconds",
	"Neg",
	"Round",
	"Scale",
	"Second",
	"Seconds",
	"String",
	"Sub",
	"Truncate",
	"UTC",
	"Unix",
	"UnixMicro",
	"UnixMilli",
	"UnixNano",
	"UnmarshalBinary",
	"UnmarshalJSON",
	"UnmarshalText",
	"Weekday",
	"WithScale",
	"Year",
	"YearDay",
	"Zone",
	"ZoneBounds",
}

// TypeMethodByName is t.MethodByName(name) for the names in Names.
func TypeMethodByName(t reflect.Type, name string) (reflect.Method, bool) {
	switch name {
	case "Abs":
		return t.MethodByName("Abs")
	case "Add":
		return t.MethodByName("Add")
	case "AddDate":
		return t.MethodByName("AddDate")
	case "After":
		return t.MethodByName("After")
	case "AppendBinary":
		return t.MethodByName("AppendBinary")
	case "AppendFormat":
		return t.MethodByName("AppendFormat")
	case "AppendText":
		return t.MethodByName("AppendText")
	case "Before":
		return t.MethodByName("Before")
	case "Ceil":
		return t.MethodByName("Ceil")
	case "Clock":
		return t.MethodByName("Clock")
	case "Cmp":
		return t.MethodByName("Cmp")
	case "Compare":
		return t.MethodByName("Compare")
	case "Date":
		return t.MethodByName("Date")
	case "Day":
		return t.MethodByName("Day")
	case "Div":
		return t.MethodByName("Div")
	case "Equal":
		return t.MethodByName("Equal")
	case "Float64":
		return t.MethodByName("Float64")
	case "Floor":
		return t.MethodByName("Floor")
	case "Format":
		return t.MethodByName("Format")
	case "GoString":
		return t.MethodByName("GoString")
	case "GobDecode":
		return t.MethodByName("GobDecode")
	case "GobEncode":
		return t.MethodByName("GobEncode")
	case "Hour":
		return t.MethodByName("Hour")
	case "Hours":
		return t.MethodByName("Hours")
	case "ISOWeek":
		return t.MethodByName("ISOWeek")
	case "In":
		return t.MethodByName("In")
	case "Int":
		return t.MethodByName("Int")
	case "IsDST":
		return t.MethodByName("IsDST")
	case "IsFinite":
		return t.MethodByName("IsFinite")
	case "IsZero":
		return t.MethodByName("IsZero")
	case "Local":
		return t.MethodByName("Local")
	case "Location":
		return t.MethodByName("Location")
	case "MarshalBinary":
		return t.MethodByName("MarshalBinary")
	case "MarshalJSON":
		return t.MethodByName("MarshalJSON")
	case "MarshalText":
		return t.MethodByName("MarshalText")
	case "Microseconds":
		return t.MethodByName("Microseconds")
	case "Milliseconds":
		return t.MethodByName("Milliseconds")
	case "Minute":
		return t.MethodByName("Minute")
	case "Minutes":
		return t.MethodByName("Minutes")
	case "Mod":
		return t.MethodByName("Mod")
	case "Month":
		return t.MethodByName("Month")
	case "Mul":
		return t.MethodByName("Mul")
	case "Nanosecond":
		return t.MethodByName("Nanosecond")
	case "Nanoseconds":
		return t.MethodByName("Nanoseconds")
	case "Neg":
		return t.MethodByName("Neg")
	case "Round":
		return t.MethodByName("Round")
	case "Scale":
		return t.MethodByName("Scale")
	case "Second":
		return t.MethodByName("Second")
	case "Seconds":
		return t.MethodByName("Seconds")
	case "String":
		return t.MethodByName("String")
	case "Sub":
		return t.MethodByName("Sub")
	case "Truncate":
		return t.MethodByName("Truncate")
	case "UTC":
		return t.MethodByName("UTC")
	case "Unix":
		return t.MethodByName("Unix")
	case "UnixMicro":
		return t.MethodByName("UnixMicro")
	case "UnixMilli":
		return t.MethodByName("UnixMilli")
	case "UnixNano":
		return t.MethodByName("UnixNano")
	case "UnmarshalBinary":
		return t.MethodByName("UnmarshalBinary")
	case "UnmarshalJSON":
		return t.MethodByName("UnmarshalJSON")
	case "UnmarshalText":
		return t.MethodByName("UnmarshalText")
	case "Weekday":
		return t.MethodByName("Weekday")
	case "WithScale":
		return t.MethodByName("WithScale")
	case "Year":
		return t.MethodByName("Year")
	case "YearDay":
		return t.MethodByName("YearDay")
	case "Zone":
		return t.MethodByName("Zone")
	case "ZoneBounds":
		return t.MethodByName("ZoneBounds")
	}
	return reflect.Method{}, false
}

// ValueMethodByName is v.MethodByName(name) for the names in Names.
func ValueMethodByName(v reflect.Value, name string) reflect.Value {
	switch name {
	case "Abs":
		return v.MethodByName("Abs")
	case "Add":
		return v.MethodByName("Add")
	case "AddDate":
		return v.MethodByName("AddDate")
	case "After":
		return v.MethodByName("After")
	case "AppendBinary":
		return v.MethodByName("AppendBinary")
	case "AppendFormat":
		return v.MethodByName("AppendFormat")
	case "AppendText":
		return v.MethodByName("AppendText")
	case "Before":
		return v.MethodByName("Before")
	case "Ceil":
		return v.MethodByName("Ceil")
	case "Clock":
		return v.MethodByName("Clock")
	case "Cmp":
		return v.MethodByName("Cmp")
	case "Compare":
		return v.MethodByName("Compare")
	case "Date":
		return v.MethodByName("Date")
	case "Day":
		return v.MethodByName("Day")
	case "Div":
		return v.MethodByName("Div")
	case "Equal":
		return v.MethodByName("Equal")
	case "Float64":
		return v.MethodByName("Float64")
	case "Floor":
		return v.MethodByName("Floor")
	case "Format":
		return v.MethodByName("Format")
	case "GoString":
		return v.MethodByName("GoString")
	case "GobDecode":
		return v.MethodByName("GobDecode")
	case "GobEncode":
		return v.MethodByName("GobEncode")
	case "Hour":
		return v.MethodByName("Hour")
	case "Hours":
		return v.MethodByName("Hours")
	case "ISOWeek":
		return v.MethodByName("ISOWeek")
	case "In":
		return v.MethodByName("In")
	case "Int":
		return v.MethodByName("Int")
	case "IsDST":
		return v.MethodByName("IsDST")
	case "IsFinite":
		return v.MethodByName("IsFinite")
	case "IsZero":
		return v.MethodByName("IsZero")
	case "Local":
		return v.MethodByName("Local")
	case "Location":
		return v.MethodByName("Location")
	case "MarshalBinary":
		return v.MethodByName("MarshalBinary")
	case "MarshalJSON":
		return v.MethodByName("MarshalJSON")
	case "MarshalText":
		return v.MethodByName("MarshalText")
	case "Microseconds":
		return v.MethodByName("Microseconds")
	case "Milliseconds":
		return v.MethodByName("Milliseconds")
	case "Minute":
		return v.MethodByName("Minute")
	case "Minutes":
		return v.MethodByName("Minutes")
	case "Mod":
		return v.MethodByName("Mod")
	case "Month":
		return v.MethodByName("Month")
	case "Mul":
		return v.MethodByName("Mul")
	case "Nanosecond":
		return v.MethodByName("Nanosecond")
	case "Nanoseconds":
		return v.MethodByName("Nanoseconds")
	case "Neg":
		return v.MethodByName("Neg")
	case "Round":
		return v.MethodByName("Round")
	case "Scale":
		return v.MethodByName("Scale")
	case "Second":
		return v.MethodByName("Second")
	case "Seconds":
		return v.MethodByName("Seconds")
	case "String":
		return v.MethodByName("String")
	case "Sub":
		return v.MethodByName("Sub")
	case "Truncate":
		return v.MethodByName("Truncate")
	case "UTC":
		return v.MethodByName("UTC")
	case "Unix":
		return v.MethodByName("Unix")
	case "UnixMicro":
		return v.MethodByName("UnixMicro")
	case "UnixMilli":
		return v.MethodByName("UnixMilli")
	case "UnixNano":
		return v.MethodByName("UnixNano")
	case "UnmarshalBinary":
		return v.MethodByName("UnmarshalBinary")
	case "UnmarshalJSON":
		return v.MethodByName("UnmarshalJSON")
	case "UnmarshalText":
		return v.MethodByName("UnmarshalText")
	case "Weekday":
		return v.MethodByName("Weekday")
	case "WithScale":
		return v.MethodByName("WithScale")
	case "Year":
		return v.MethodByName("Year")
	case "YearDay":
		return v.MethodByName("YearDay")
	case "Zone":
		return v.MethodByName("Zone")
	case "ZoneBounds":
		return v.MethodByName("ZoneBounds")
	}
	return reflect.Value{}
}
