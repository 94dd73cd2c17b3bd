#!/usr/bin/env python3
"""Deploys docs/aws/spool-stack.yaml into moto (in process: no server, no port) and prints, as one
JSON object on stdout, what the stack made as the AWS APIs report it: the stack's status and outputs,
the queues' attributes, the bucket's configuration, the roles' trust and attached policy documents,
and the resource types moto's CloudFormation skipped. The calling test decides what is right.

Exit status: 0 with the report; 3 when moto is not installed (the test then skips); 1 otherwise.
"""
import argparse
import json
import sys
import warnings


def api(call, **kwargs):
    """The answer of a describe call, or {"error": code} when the service refuses it."""
    from botocore.exceptions import ClientError

    try:
        answer = call(**kwargs)
        answer.pop("ResponseMetadata", None)
        return answer
    except ClientError as e:
        return {"error": e.response.get("Error", {}).get("Code", "unknown")}


def document(doc):
    return json.loads(doc) if isinstance(doc, str) else doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", required=True)
    parser.add_argument("--stack-name", default="spool")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    try:
        import boto3
        from moto import mock_aws
    except ImportError as e:
        print(f"moto is not installed ({e})", file=sys.stderr)
        return 3

    with open(args.template, encoding="utf-8") as f:
        body = f.read()
    parameters = []
    for p in args.parameter:
        key, _, value = p.partition("=")
        parameters.append({"ParameterKey": key, "ParameterValue": value})

    report = {}
    with warnings.catch_warnings(record=True) as caught, mock_aws():
        warnings.simplefilter("always")
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name=args.region)
        cfn, sqs, s3, iam = (session.client(s) for s in ("cloudformation", "sqs", "s3", "iam"))

        cfn.create_stack(StackName=args.stack_name, TemplateBody=body, Parameters=parameters,
                         Capabilities=["CAPABILITY_NAMED_IAM"])
        stack = cfn.describe_stacks(StackName=args.stack_name)["Stacks"][0]
        report["status"] = stack["StackStatus"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        report["outputs"] = outputs
        report["resources"] = {
            r["LogicalResourceId"]: {"type": r["ResourceType"], "id": r.get("PhysicalResourceId", "")}
            for r in cfn.list_stack_resources(StackName=args.stack_name)["StackResourceSummaries"]
            if r.get("LogicalResourceId")
        }

        for name, key in (("queue", "QueueUrl"), ("dead_letter_queue", "DeadLetterQueueUrl")):
            if key in outputs:
                report[name] = api(sqs.get_queue_attributes, QueueUrl=outputs[key],
                                   AttributeNames=["All"]).get("Attributes", {})

        bucket = outputs.get("BucketName")
        if bucket:
            report["bucket"] = {
                "head": "error" not in api(s3.head_bucket, Bucket=bucket),
                "encryption": api(s3.get_bucket_encryption, Bucket=bucket),
                "public_access_block": api(s3.get_public_access_block, Bucket=bucket),
                "lifecycle": api(s3.get_bucket_lifecycle_configuration, Bucket=bucket),
                "cors": api(s3.get_bucket_cors, Bucket=bucket),
                "policy": api(s3.get_bucket_policy, Bucket=bucket),
            }

        roles = {}
        for key in ("WebBackendRoleArn", "WorkerRoleArn"):
            if key not in outputs:
                continue
            role_name = outputs[key].rsplit("/", 1)[-1]
            role = iam.get_role(RoleName=role_name)["Role"]
            attached = []
            for a in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
                policy = iam.get_policy(PolicyArn=a["PolicyArn"])["Policy"]
                version = iam.get_policy_version(PolicyArn=a["PolicyArn"], VersionId=policy["DefaultVersionId"])
                attached.append({"name": a["PolicyName"], "document": document(version["PolicyVersion"]["Document"])})
            roles[key] = {"trust": document(role["AssumeRolePolicyDocument"]), "attached": attached}
        report["roles"] = roles

    skipped = set()
    for w in caught:
        text = str(w.message)
        if text.startswith("Tried to parse ") and "not supported" in text:
            skipped.add(text.split()[3])
    report["skipped_resource_types"] = sorted(skipped)
    json.dump(report, sys.stdout, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
