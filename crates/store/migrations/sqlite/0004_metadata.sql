-- Every FIDO MDS3 BLOB accepted, by serial number; the highest is current.
CREATE TABLE metadata_blobs (
    no          INTEGER PRIMARY KEY,
    next_update TEXT NOT NULL,
    jwt         BLOB NOT NULL,
    imported_ms INTEGER NOT NULL
);
-- The attestation certificates a credential arrived with (JSON array of
-- base64url DER, leaf first), so new metadata can re-judge it.
ALTER TABLE credentials ADD COLUMN attestation_chain TEXT NOT NULL DEFAULT '[]';
