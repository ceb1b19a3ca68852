# sluice — common tasks. `make test` is what CI runs.
GO ?= go

.PHONY: build test bench fuzz demo clean

build:
	$(GO) build -o sluice ./cmd/sluice

test:
	scripts/test.sh

# The full report (bench/last.md, README.md's table): every phase, the
# 10,000,000-row snapshot of the scale phase and a CPU profile summary.
bench: build
	scripts/bench.sh -scale-x10 -profiles

# Short fuzzing pass over every fuzz target (FUZZTIME per target).
FUZZTIME ?= 30s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

demo: build
	./sluice run examples/generator-to-file.yaml

clean:
	rm -rf sluice .sluice out
