-- A credential's tier (1 synced passkey, 2 device-bound with UV, 3 certified
-- hardware) and the reasons for it, as the service computed them.
ALTER TABLE credentials ADD COLUMN tier INTEGER NOT NULL DEFAULT 1;
ALTER TABLE credentials ADD COLUMN tier_reasons TEXT NOT NULL DEFAULT '';
