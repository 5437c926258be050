package store

// The dashboard's hand decoding, for cardrow_test.go to hold equal to pgx's scan.
var (
	DecodeCard  = decodeCard
	BinaryCards = binaryCards
	// ScanCard with binary false is pgx's typed scan, the reference the hand decoder
	// is held to.
	ScanCard = scanCard
)
