// Package pgserver runs a Postgres cluster of a tool's own: initdb into a temp dir with
// the machine's Postgres binaries, pg_ctl on a free loopback port with the tool's
// settings. The fault suite restarts and pauses it, and the benchmark's production
// topology needs more connections than a default server allows; neither may touch the
// machine's shared Postgres, which other tests and the developer's data use.
package pgserver
