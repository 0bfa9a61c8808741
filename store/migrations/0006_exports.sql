-- Export jobs gain their outcome and timings: the PDF's size and pages, when the
-- exporter started and finished.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS bytes UInt64 DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS pages UInt32 DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS started_at DateTime64(3, 'UTC') DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS finished_at DateTime64(3, 'UTC') DEFAULT 0;
