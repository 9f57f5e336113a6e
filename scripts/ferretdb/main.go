// Command ferretdb runs FerretDB v1 with its PostgreSQL backend on one TCP address.
//
// It wraps FerretDB's embeddable package because `go install` of FerretDB's own command
// refuses to start without the version files its release build generates.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27018", "TCP address to listen on")
	pgURL := flag.String("postgresql-url", "postgres://127.0.0.1:5432/ferretdb", "PostgreSQL connection URL")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	// FerretDB allocates for every document it decodes, and Go's default (GOGC=100)
	// collected often enough to take an eighth of its CPU under load; a few times its
	// small heap costs nothing here. GOGC, when set, still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// FerretDB shares a few cores with PostgreSQL and the platform. With a second processor,
	// Go's scheduler wakes another thread to look for work whenever a goroutine becomes
	// runnable (a command arriving, PostgreSQL answering), and that costs more than it
	// gains here: one processor took 13 % less of the database's CPU per request in the
	// load run, on two cores. GOMAXPROCS, when set, still decides.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		slog.Error("bad -log-level", "error", err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		slog.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("FerretDB listening", "addr", *listen)
	f.Run(ctx)
}
