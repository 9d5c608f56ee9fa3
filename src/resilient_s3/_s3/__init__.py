"""The S3 wire: requests built from botocore's model, the HTTP/1.1 client, reading the user's
session, and the one place SDK, network and OS errors are mapped to the ``UploadError`` tree."""
