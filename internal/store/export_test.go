package store

// The dashboard's hand decoding, for cardrow_test.go to hold equal to pgx's scan.
var (
	DecodeCard  = decodeCard
	BinaryCards = binaryCards
	// ScanCard with binary false is pgx's typed scan, the reference the hand decoder
	// is held to.
	ScanCard = scanCard
)

// MigrationSQL is the text of one embedded migration, for tests that run it again on
// rows written the way they were before it.
func MigrationSQL(name string) (string, error) {
	b, err := migrationFiles.ReadFile("migrations/" + name)
	return string(b), err
}
