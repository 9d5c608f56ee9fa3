"""One upload, from source to confirmed object: planning, reading and checksumming parts,
the pipeline of part workers over a backend (S3, or presigned URLs), committing, journaling,
resuming and cleaning up."""
