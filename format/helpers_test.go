package format

import (
	"encoding/base64"
	"strconv"
	"time"
)

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func itoa(i int) string { return strconv.Itoa(i) }

func refDate(days int64) time.Time { return time.Unix(days*86400, 0).UTC() }
