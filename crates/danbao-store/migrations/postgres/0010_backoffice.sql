-- The seller back office's statement reads one seller's postings for a period.
CREATE INDEX postings_account ON postings (account);
