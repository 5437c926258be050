package store

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// A dashboard card row is read by hand when it comes in the binary layout the prepared
// first page gets: pgx's typed scan dispatches every value through a scan plan and an
// interface, which for a page of 50 cards was the largest share of the API's own CPU
// after the socket. Rows in any other layout (the simple protocol's text, a column
// whose type changed) go through rows.Scan, so the fast path can only ever be skipped,
// never misread; cardrow_test.go holds it equal to the scan.

// cardTypes are the types of DashboardStatement's columns, in Card's field order.
func cardTypes() [15]uint32 {
	return [15]uint32{
		pgtype.UUIDOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.Int4OID, pgtype.BoolOID,
		pgtype.UUIDOID, pgtype.TextOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.Int4OID, pgtype.Int4OID,
		pgtype.BoolOID, pgtype.BoolOID, pgtype.BoolOID,
	}
}

// binaryCards says whether rows described by fields are in the layout decodeCard reads.
func binaryCards(fields []pgconn.FieldDescription) bool {
	want := cardTypes()
	if len(fields) != len(want) {
		return false
	}
	for i, f := range fields {
		// Text is the same bytes in either format (pgx asks for it as text); every other
		// type must come binary.
		if f.DataTypeOID != want[i] || (f.Format != pgx.BinaryFormatCode && f.DataTypeOID != pgtype.TextOID) {
			return false
		}
	}
	return true
}

// scanCard reads the current row into k: by hand when binary says the layout is the
// binary one and every value is one decodeCard reads, else with rows.Scan.
func scanCard(rows pgx.Rows, binary bool, k *Card) error {
	if binary && decodeCard(rows.RawValues(), k) {
		return nil
	}
	*k = Card{}
	return rows.Scan(&k.MemberID, &k.Name, &k.Email, &k.Kind, &k.RetryCredits, &k.FreeRetryAvailable,
		&k.ShootID, &k.Status, &k.CompletedAt, &k.DeletedAt, &k.RetryCount, &k.ResultCount,
		&k.PendingRetry, &k.HasDeletedShoot, &k.HasOpenShoot)
}

// decodeCard fills k from one row's binary values, as rows.Scan would, and reports
// false for anything it does not read (a NULL where the column has none, an infinite
// timestamp, a value of the wrong size), leaving the row to rows.Scan.
func decodeCard(v [][]byte, k *Card) bool {
	if len(v) != 15 {
		return false
	}
	var ok [15]bool
	k.MemberID, ok[0] = binaryUUID(v[0])
	k.Name, ok[1] = binaryText(v[1])
	k.Email, ok[2] = nullText(v[2])
	k.Kind, ok[3] = binaryText(v[3])
	k.RetryCredits, ok[4] = binaryInt4(v[4])
	k.FreeRetryAvailable, ok[5] = binaryBool(v[5])
	k.ShootID, ok[6] = binaryUUID(v[6])
	k.Status, ok[7] = binaryText(v[7])
	k.CompletedAt, ok[8] = nullTimestamptz(v[8])
	k.DeletedAt, ok[9] = nullTimestamptz(v[9])
	k.RetryCount, ok[10] = binaryInt4(v[10])
	k.ResultCount, ok[11] = binaryInt4(v[11])
	k.PendingRetry, ok[12] = binaryBool(v[12])
	k.HasDeletedShoot, ok[13] = binaryBool(v[13])
	k.HasOpenShoot, ok[14] = binaryBool(v[14])
	for _, good := range ok {
		if !good {
			return false
		}
	}
	return true
}

// binaryUUID spells a uuid as Postgres and pgx do: lower-case hex in 8-4-4-4-12 groups.
func binaryUUID(b []byte) (string, bool) {
	if len(b) != 16 {
		return "", false
	}
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:]), true
}

func binaryText(b []byte) (string, bool) {
	if b == nil {
		return "", false
	}
	return string(b), true
}

func nullText(b []byte) (*string, bool) {
	if b == nil {
		return nil, true
	}
	s := string(b)
	return &s, true
}

func binaryInt4(b []byte) (int, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return int(int32(binary.BigEndian.Uint32(b))), true
}

func binaryBool(b []byte) (bool, bool) {
	if len(b) != 1 {
		return false, false
	}
	return b[0] == 1, true
}

// postgresEpoch is 2000-01-01 UTC in microseconds since the Unix epoch: binary
// timestamps count microseconds from it.
const postgresEpoch = 946684800 * 1_000_000

// nullTimestamptz reads a binary timestamptz as pgx does (time.Unix, so in the local
// zone). Infinity is left to pgx, which refuses it for a time.Time.
func nullTimestamptz(b []byte) (*time.Time, bool) {
	if b == nil {
		return nil, true
	}
	if len(b) != 8 {
		return nil, false
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return nil, false
	}
	t := time.Unix(postgresEpoch/1_000_000+us/1_000_000, (postgresEpoch%1_000_000+us%1_000_000)*1000)
	return &t, true
}
