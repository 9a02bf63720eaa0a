"""`chalice package`, for the lint test: the same command, minus the one handler CloudFormation cannot express.

chalice refuses to package an app with `@app.on_s3_event` ("CloudFormation does not support modifying the
event notifications of existing buckets"): `chalice deploy` connects the inbound-mail bucket to
receive_email itself. So, in this process only, the S3 notification is left out of the template and
everything else is packaged as chalice would. Run: python -m tests.infra.chalice_package STAGE OUT_DIR
(in the chalice project directory).
"""
import sys

from chalice import package
from chalice.cli import main

package.SAMTemplateGenerator._generate_s3bucketnotification = lambda self, resource, template: None

if __name__ == "__main__":
    stage, out = sys.argv[1:3]
    sys.argv = ["chalice", "package", "--stage", stage, out]
    sys.exit(main())
