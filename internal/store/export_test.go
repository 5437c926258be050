package store

// The dashboard's hand decoding, for cardrow_test.go to hold equal to pgx's scan.
var (
	DecodeCard  = decodeCard
	BinaryCards = binaryCards
)
