package postgres

import "os"

func benchEnabled() bool { return os.Getenv("SLUICE_BENCH") != "" }
