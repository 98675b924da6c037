#!/usr/bin/env bash
# Checks template.yaml without AWS: `sam validate --lint`, `cfn-lint`, the invariants
# neither can see (below), then `sam build` into a throwaway directory (default
# .run/sam-build, or $1), and that every function it built is a Linux arm64 executable
# named bootstrap. Uses the tools in .venv (`make setup`). Credentials and region are
# fake and nothing is sent anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_dir=${1:-$root/.run/sam-build}
sam=$root/.venv/bin/sam
cfn_lint=$root/.venv/bin/cfn-lint
for tool in "$sam" "$cfn_lint"; do
  [ -x "$tool" ] || { echo "check-template: $tool not found; run 'make setup'" >&2; exit 1; }
done

# No real AWS: a fixed region, fake credentials, no shared config or instance metadata.
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true

step() { echo "== $*"; }

step "sam validate --lint"
"$sam" validate --lint --template template.yaml

# Informational checks too: every stateful resource must state its deletion policy.
step "cfn-lint --include-checks I"
"$cfn_lint" --include-checks I -t template.yaml

# Invariants of the template as SAM translates it (the CloudFormation that would be
# deployed), with a placeholder code location:
#  - the webhook queue's visibility timeout is 6 x the processor's timeout for every
#    allowed ProcessorTimeout (CloudFormation has no arithmetic; a mapping tabulates
#    it, and a wrong or missing entry would deploy silently);
#  - the processor and the redrive function each run under the template's own role,
#    with exactly the permissions listed in `expected` / `expected_redrive` below and
#    no managed policy; a change to their permissions must change these lists too;
#  - the processor reads the routes' delivery secrets only under the stack's
#    prefixes (SSM parameter/tenaz/<stack>/deliveries/*, Secrets Manager
#    secret:tenaz/<stack>/deliveries/*), and no other function reads them;
#  - the processor's event source mapping reports partial batch failures; the redrive
#    function has no event source;
#  - the breaker table and the processor's breaker settings; a 24-hour destination
#    outage stays out of the DLQ (MaxReceiveCount and queue retention);
#  - the alarms notify the alarm topic, the e-mail subscription is conditional, and
#    the dashboard body is JSON with the metrics it is meant to show;
#  - the body bucket is private, TLS-only, retained, and expires objects only after
#    every message that may refer to them; the three functions name it and the inline
#    limit, and each may touch bodies/* only as its role lists (ingest, for one, also
#    runs under the role and grants checked in `expected_ingest`).
#  - idle cost: the dashboard and the sources secret are opt-in (default off), the
#    sources default to an SSM parameter ingest may read and nothing else, and the
#    processor's metrics default to totals by outcome.
#  - the idempotency table has point-in-time recovery and deletion protection by
#    default; the processor knows the webhook queue's retention; the Rules refuse
#    exactly the MaxAttempts x RetryMaxSeconds combinations whose retry waits do not
#    fit in 3 days (evaluated for every allowed pair).
step "template invariants"
"$root/.venv/bin/python" - template.yaml <<'PY'
import json, re, sys
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

errors = []
def check(ok, msg):
    if not ok:
        errors.append(msg)

sam = yaml_parse(open(sys.argv[1]).read())
for res in sam["Resources"].values():
    if res.get("Type") == "AWS::Serverless::Function":
        res["Properties"]["CodeUri"] = "s3://placeholder/code.zip"
cfn = Translator(managed_policy_map=None, sam_parser=Parser()).translate(
    sam_template=sam, parameter_values={}, get_managed_policy_map=lambda: {})
res = cfn["Resources"]

# Visibility timeout = 6 x processor timeout.
mapping = "QueueVisibilityForProcessorTimeout"
allowed = [str(v) for v in cfn["Parameters"]["ProcessorTimeout"]["AllowedValues"]]
table = cfn["Mappings"][mapping]
check(sorted(allowed, key=int) == sorted(table, key=int),
      f"ProcessorTimeout AllowedValues {allowed} and {mapping} keys {sorted(table, key=int)} differ")
for key, entry in table.items():
    check(int(entry["Seconds"]) == 6 * int(key),
          f"{mapping}[{key}] is {entry['Seconds']} s, want 6 x {key} = {6 * int(key)}")
    check(int(entry["Seconds"]) <= 43200, f"{mapping}[{key}] exceeds the SQS maximum of 43200 s")
check(res["ProcessorFunction"]["Properties"].get("Timeout") == {"Ref": "ProcessorTimeout"},
      "ProcessorFunction's Timeout is not !Ref ProcessorTimeout")
check(res["WebhookQueue"]["Properties"].get("VisibilityTimeout")
      == {"Fn::FindInMap": [mapping, {"Ref": "ProcessorTimeout"}, "Seconds"]},
      f"WebhookQueue's VisibilityTimeout is not looked up in {mapping} by ProcessorTimeout")

# The processor's permissions: (action, logical id of the resource) pairs.
expected = {
    ("sqs:ReceiveMessage", "WebhookQueue"),
    ("sqs:DeleteMessage", "WebhookQueue"),
    ("sqs:GetQueueAttributes", "WebhookQueue"),
    ("sqs:ChangeMessageVisibility", "WebhookQueue"),
    ("sqs:SendMessage", "WebhookDLQ"),
    ("dynamodb:GetItem", "IdempotencyTable"),
    ("dynamodb:PutItem", "IdempotencyTable"),
    ("dynamodb:UpdateItem", "IdempotencyTable"),
    ("dynamodb:GetItem", "BreakerTable"),
    ("dynamodb:UpdateItem", "BreakerTable"),
    ("logs:CreateLogStream", "ProcessorLogGroup"),
    ("logs:PutLogEvents", "ProcessorLogGroup"),
    ("s3:GetObject", "BodyBucket/bodies/*"),
    ("s3:DeleteObject", "BodyBucket/bodies/*"),
    ("s3:ListBucket", "BodyBucket"),
    # The routes' delivery secrets: only under the stack's deliveries/ prefixes.
    ("ssm:GetParameter", "DeliveryParameters"),
    ("secretsmanager:GetSecretValue", "DeliverySecrets"),
}
# The ingest function's permissions.
expected_ingest = {
    ("sqs:SendMessage", "WebhookQueue"),
    # One or the other, as SourcesStore says (parameter by default).
    ("ssm:GetParameter", "SourcesParameter"),
    ("secretsmanager:GetSecretValue", "SourcesSecret"),
    ("logs:CreateLogStream", "IngestLogGroup"),
    ("logs:PutLogEvents", "IngestLogGroup"),
    ("s3:PutObject", "BodyBucket/bodies/*"),
}
# The redrive function's permissions.
expected_redrive = {
    ("sqs:ReceiveMessage", "WebhookDLQ"),
    ("sqs:DeleteMessage", "WebhookDLQ"),
    ("sqs:ChangeMessageVisibility", "WebhookDLQ"),
    ("sqs:SendMessage", "WebhookQueue"),
    ("dynamodb:UpdateItem", "IdempotencyTable"),
    ("dynamodb:GetItem", "BreakerTable"),
    ("logs:CreateLogStream", "RedriveLogGroup"),
    ("logs:PutLogEvents", "RedriveLogGroup"),
    ("s3:GetObject", "BodyBucket/bodies/*"),
    ("s3:PutObject", "BodyBucket/bodies/*"),
    ("s3:ListBucket", "BodyBucket"),
}
sources_parameter_name = {"Fn::If": ["SourcesParameterNameSet", {"Ref": "SourcesParameterName"}, {"Fn::Sub": "/tenaz/${AWS::StackName}/sources"}]}
sources_parameter_arn = {"Fn::Sub": ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}", {"Name": sources_parameter_name}]}
# The processor reads delivery secrets under these prefixes only (README, "Signed
# deliveries"), which do not cover the ingest function's sources parameter
# (/tenaz/<stack>/sources by default).
delivery_parameters_arn = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/tenaz/${AWS::StackName}/deliveries/*"}
delivery_secrets_arn = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:tenaz/${AWS::StackName}/deliveries/*"}
def check_role(fn, want):
    role_ref = res[fn]["Properties"].get("Role")
    role_id = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
    check(role_id in res and res[role_id]["Type"] == "AWS::IAM::Role",
          f"{fn}'s Role {role_ref} is not a role of this template")
    granted = set()
    if role_id in res:
        role = res[role_id]["Properties"]
        check(not role.get("ManagedPolicyArns"), f"{role_id} has managed policies {role.get('ManagedPolicyArns')}")
        check(not any(r.get("Type") == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"].get("Roles", [])
                      for r in res.values()), f"a separate AWS::IAM::Policy is attached to {role_id}")
        for policy in role.get("Policies", []):
            statements = []
            for st in policy["PolicyDocument"]["Statement"]:
                # A conditional statement: both branches count (each is granted under
                # its condition); only the tracing statement may have AWS::NoValue as
                # its other branch.
                if "Fn::If" in st and st["Fn::If"][0] == "TracingOn":
                    check(st["Fn::If"][2] == {"Ref": "AWS::NoValue"}, f"{role_id}: tracing statement with an else branch")
                    statements.append(st["Fn::If"][1])
                    continue
                statements += st["Fn::If"][1:] if "Fn::If" in st else [st]
            for st in statements:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                check(st.get("Effect") == "Allow" and "NotAction" not in st and "NotResource" not in st,
                      f"{role_id}: unexpected statement shape {json.dumps(st)}")
                # Listing the body bucket (so a missing object is a 404, not a 403) is
                # limited to the bodies/ prefix.
                if "s3:ListBucket" in actions:
                    check(st.get("Condition") == {"StringLike": {"s3:prefix": "bodies/*"}},
                          f"{role_id}: s3:ListBucket without the bodies/* prefix condition: {json.dumps(st)}")
                for r in resources:
                    target = r.get("Fn::GetAtt", [None, None]) if isinstance(r, dict) else [None, None]
                    if isinstance(r, dict) and list(r) == ["Ref"] and res.get(r["Ref"], {}).get("Type") == "AWS::SecretsManager::Secret":
                        target = [r["Ref"], "Arn"]  # a secret's Ref is its ARN
                    # Objects under a prefix of a bucket: !Sub ${Bucket.Arn}/prefix/*.
                    sub = r.get("Fn::Sub") if isinstance(r, dict) and list(r) == ["Fn::Sub"] else None
                    m = re.fullmatch(r"\$\{(\w+)\.Arn\}(/[\w/-]+/\*)", sub) if isinstance(sub, str) else None
                    if m and res.get(m.group(1), {}).get("Type") == "AWS::S3::Bucket":
                        target = [m.group(1) + m.group(2), "Arn"]
                    if r == "*" and set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}:
                        target = ["*", "Arn"]  # X-Ray's write calls take no resource
                    if r == sources_parameter_arn:
                        target = ["SourcesParameter", "Arn"]  # the one parameter ingest reads
                    if r == delivery_parameters_arn:
                        target = ["DeliveryParameters", "Arn"]  # /tenaz/<stack>/deliveries/*
                    if r == delivery_secrets_arn:
                        target = ["DeliverySecrets", "Arn"]  # tenaz/<stack>/deliveries/*
                    if target[1] != "Arn":
                        errors.append(f"{role_id}: resource {json.dumps(r)} is not a !GetAtt <resource>.Arn")
                        continue
                    for a in actions:
                        granted.add((a, target[0]))
                        print(f"  {role_id}: {a} on {target[0]}")
    check(not granted - want, f"{role_id} grants more than expected: {sorted(granted - want)}")
    check(not want - granted, f"{role_id} lacks expected permissions: {sorted(want - granted)}")
    check(not any(r.get("Type") == "AWS::IAM::Role" and name.startswith(fn) for name, r in res.items()),
          f"SAM generated a role for {fn}")

# Every function may write X-Ray segments, only with Tracing=true (checked above).
tracing = {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
for want in (expected_ingest, expected, expected_redrive):
    want |= tracing
check(cfn["Parameters"].get("Tracing", {}).get("Default") == "false", "Tracing does not default to false")
check(cfn["Conditions"].get("TracingOn") == {"Fn::Equals": [{"Ref": "Tracing"}, "true"]}, "TracingOn is not Tracing == 'true'")
for fn in ("IngestFunction", "ProcessorFunction", "RedriveFunction"):
    tc = res[fn]["Properties"].get("TracingConfig")
    check(tc == {"Mode": {"Fn::If": ["TracingOn", "Active", "PassThrough"]}}, f"{fn} TracingConfig {tc}, want Active only with TracingOn")

check_role("IngestFunction", expected_ingest)
check_role("ProcessorFunction", expected)
check_role("RedriveFunction", expected_redrive)

esm = [r["Properties"] for r in res.values() if r.get("Type") == "AWS::Lambda::EventSourceMapping"
       and r["Properties"].get("FunctionName") == {"Ref": "ProcessorFunction"}]
check(len(esm) == 1, f"ProcessorFunction has {len(esm)} event source mappings, want 1")
for m in esm:
    check(m.get("EventSourceArn") == {"Fn::GetAtt": ["WebhookQueue", "Arn"]}, "the processor's mapping does not read WebhookQueue")
    check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "the processor's mapping does not report batch item failures")

# No event source for the redrive function: nothing but an operator invokes it.
check(not any(r.get("Type") in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::Permission")
              and r["Properties"].get("FunctionName") in ({"Ref": "RedriveFunction"}, {"Fn::GetAtt": ["RedriveFunction", "Arn"]})
              for r in res.values()), "RedriveFunction has an event source or an invoke permission")
params = cfn["Parameters"]
def default(name):
    return int(params[name]["Default"])

# The optional function URL front door: off by default, only on the ingest function,
# and its public invoke permission limited to calls through the URL.
check(params.get("FunctionUrl", {}).get("Default") == "false", "FunctionUrl does not default to false")
check(cfn["Conditions"].get("FunctionUrlOn") == {"Fn::Equals": [{"Ref": "FunctionUrl"}, "true"]},
      "FunctionUrlOn is not FunctionUrl == 'true'")
urls = {n: r for n, r in res.items() if r.get("Type") == "AWS::Lambda::Url"}
check(list(urls) == ["IngestFunctionUrl"], f"function URLs {list(urls)}, want IngestFunctionUrl only")
for n, r in urls.items():
    check(r.get("Condition") == "FunctionUrlOn", f"{n} is not conditional on FunctionUrlOn")
    check(r["Properties"].get("TargetFunctionArn") == {"Fn::GetAtt": ["IngestFunction", "Arn"]}, f"{n} does not target IngestFunction")
public = [(n, r) for n, r in res.items() if r.get("Type") == "AWS::Lambda::Permission" and r["Properties"].get("Principal") == "*"]
check(sorted(n for n, _ in public) == ["IngestFunctionUrlInvokePermission", "IngestFunctionUrlPermission"],
      f"public invoke permissions {[n for n, _ in public]}, want only the ingest function URL's two")
for n, r in public:
    p = r["Properties"]
    check(r.get("Condition") == "FunctionUrlOn" and p.get("FunctionName") == {"Ref": "IngestFunction"},
          f"{n} is not the ingest function's, conditional on FunctionUrlOn")
    check((p.get("Action") == "lambda:InvokeFunctionUrl" and p.get("FunctionUrlAuthType") == "NONE")
          or (p.get("Action") == "lambda:InvokeFunction" and p.get("InvokedViaFunctionUrl") is True),
          f"{n} allows {p.get('Action')} beyond calls through the function URL")
check(params.get("PlatformLogLevel", {}).get("Default") == "WARN", "PlatformLogLevel does not default to WARN")
for fn in ("IngestFunction", "ProcessorFunction", "RedriveFunction"):
    lc = res[fn]["Properties"].get("LoggingConfig", {})
    check(lc.get("LogFormat") == "JSON" and lc.get("SystemLogLevel") == {"Ref": "PlatformLogLevel"},
          f"{fn} does not log JSON with SystemLogLevel !Ref PlatformLogLevel")
redrive = res["RedriveFunction"]["Properties"]
check(redrive.get("Timeout") == {"Ref": "RedriveTimeout"} and default("RedriveTimeout") == 300
      and int(params["RedriveTimeout"]["MaxValue"]) == 900,
      "RedriveFunction's Timeout is not !Ref RedriveTimeout (default 300, at most 900)")
check(int(redrive.get("MemorySize", 0)) == 256, f"RedriveFunction's MemorySize is {redrive.get('MemorySize')}, want 256")
env = redrive.get("Environment", {}).get("Variables", {})
for var, want in {"TENAZ_QUEUE_URL": {"Fn::GetAtt": ["WebhookQueue", "QueueUrl"]},
                  "TENAZ_DLQ_URL": {"Fn::GetAtt": ["WebhookDLQ", "QueueUrl"]},
                  "TENAZ_IDEMPOTENCY_TABLE": {"Ref": "IdempotencyTable"},
                  "TENAZ_REDRIVE_LIMIT": {"Ref": "RedriveLimit"},
                  "TENAZ_LOG_LEVEL": {"Ref": "LogLevel"}}.items():
    check(env.get(var) == want, f"RedriveFunction's {var} is {env.get(var)}, want {want}")

# The breaker: its table and the processor's settings with their defaults.
bt = res["BreakerTable"]
check(bt.get("DeletionPolicy") == "Delete", "BreakerTable is not deleted with the stack")
btp = bt["Properties"]
check(btp.get("BillingMode") == "PAY_PER_REQUEST", "BreakerTable is not on demand")
check(btp.get("KeySchema") == [{"AttributeName": "name", "KeyType": "HASH"}]
      and btp.get("AttributeDefinitions") == [{"AttributeName": "name", "AttributeType": "S"}],
      "BreakerTable's key is not name (S)")
check(btp.get("TimeToLiveSpecification") == {"AttributeName": "expiresAt", "Enabled": True},
      "BreakerTable's TTL is not on expiresAt")
check(btp.get("SSESpecification", {}).get("SSEEnabled") is True, "BreakerTable has no SSE")
penv = res["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
check(penv.get("TENAZ_BREAKER_TABLE") == {"Ref": "BreakerTable"}, "the processor's TENAZ_BREAKER_TABLE is not the breaker table")
for var, param, want in [("TENAZ_BREAKER_FAILURES", "BreakerFailures", 5),
                         ("TENAZ_BREAKER_WINDOW_SECONDS", "BreakerWindowSeconds", 30),
                         ("TENAZ_BREAKER_OPEN_SECONDS", "BreakerOpenSeconds", 60),
                         ("TENAZ_BREAKER_CACHE_MS", "BreakerCacheMs", 1000),
                         ("TENAZ_DEFER_MAX_SECONDS", "DeferMaxSeconds", 900)]:
    check(penv.get(var) == {"Ref": param}, f"the processor's {var} is {penv.get(var)}, want !Ref {param}")
    check(param in params and default(param) == want, f"parameter {param} does not default to {want}")

# A 24-hour outage of a destination stays out of the DLQ with the defaults: deferrals
# of at most DeferMaxSeconds, jittered down by up to 20 %, after about ten short ones,
# plus MaxAttempts real attempts, fit in MaxReceiveCount; the queue keeps messages
# longer than the outage and the DLQ longer than the queue.
outage = 24 * 3600
receives = outage / (0.8 * default("DeferMaxSeconds")) + 10 + default("MaxAttempts")
check(default("MaxReceiveCount") >= 200 and default("MaxReceiveCount") > receives,
      f"MaxReceiveCount defaults to {default('MaxReceiveCount')}: a 24-hour outage costs up to {receives:.0f} receives (want >= 200)")
qret = int(res["WebhookQueue"]["Properties"]["MessageRetentionPeriod"])
check(qret == 345600, f"WebhookQueue keeps messages {qret} s, want 345600 (4 days)")
check(int(res["WebhookDLQ"]["Properties"]["MessageRetentionPeriod"]) > qret, "the DLQ does not outlast the queue's retention")

# The processor is told the queue's retention, and the retry budget fits in it.
check(penv.get("TENAZ_QUEUE_RETENTION_SECONDS") == str(qret),
      f"the processor's TENAZ_QUEUE_RETENTION_SECONDS is {penv.get('TENAZ_QUEUE_RETENTION_SECONDS')}, want the queue's {qret}")
margin = 900  # the processor's expiry margin (processor.DefaultExpiryMargin), seconds
budget = 3 * 24 * 3600  # the retry waits' share of the retention, as the Rules state
check(budget + margin < qret, f"the retry budget {budget} s plus the margin does not fit in the retention {qret} s")
for name in ("DeferMaxSeconds", "RetryMaxSeconds"):
    top = max(int(v) for v in params[name].get("AllowedValues", [])) if "AllowedValues" in params[name] else int(params[name]["MaxValue"])
    check(top + margin < qret, f"{name} can reach {top} s, beyond the queue's retention less the margin")
check(default("MaxAttempts") * default("RetryMaxSeconds") <= budget, "the default retry budget does not fit in 3 days")

# The Rules, evaluated on every allowed (RetryMaxSeconds, MaxAttempts) pair: they
# refuse a pair exactly when MaxAttempts x RetryMaxSeconds exceeds the budget.
rules = sam.get("Rules", {})
def ev(x, values):
    if isinstance(x, dict) and len(x) == 1:
        (fn, arg), = x.items()
        if fn == "Ref":
            return values[arg]
        if fn == "Fn::Equals":
            a, b = (ev(v, values) for v in arg)
            return str(a) == str(b)
        if fn == "Fn::Contains":
            return str(ev(arg[1], values)) in [str(ev(v, values)) for v in arg[0]]
        if fn == "Fn::Not":
            return not ev(arg[0], values)
        if fn == "Fn::And":
            return all(ev(v, values) for v in arg)
        if fn == "Fn::Or":
            return any(ev(v, values) for v in arg)
        raise ValueError(f"rule function {fn} not evaluated here")
    if isinstance(x, list):
        return [ev(v, values) for v in x]
    return x
def refused(values):
    for name, rule in rules.items():
        if "RuleCondition" in rule and not ev(rule["RuleCondition"], values):
            continue
        for a in rule.get("Assertions", []):
            if not ev(a["Assert"], values):
                return name
    return None
base = {n: str(p.get("Default", "")) for n, p in params.items()}
check(refused(base) is None, f"the defaults are refused by {refused(base)}")
wrong = []
for r in params["RetryMaxSeconds"]["AllowedValues"]:
    for m in range(int(params["MaxAttempts"]["MinValue"]), int(params["MaxAttempts"]["MaxValue"]) + 1):
        got = refused(dict(base, RetryMaxSeconds=str(r), MaxAttempts=str(m), BatchSize="10"))
        if (got is not None) != (int(r) * m > budget):
            wrong.append((int(r), m, got))
check(not wrong, f"the Rules misjudge {len(wrong)} (RetryMaxSeconds, MaxAttempts) pairs, e.g. {wrong[:3]}")
print(f"  Rules: every allowed RetryMaxSeconds x MaxAttempts pair judged against the {budget} s budget")

# The idempotency table: point-in-time recovery and deletion protection by default.
it = res["IdempotencyTable"]["Properties"]
for prop, key, param, cond in [
        ("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled", "IdempotencyPointInTimeRecovery", "IdempotencyPointInTimeRecoveryOn"),
        (None, "DeletionProtectionEnabled", "IdempotencyDeletionProtection", "IdempotencyDeletionProtectionOn")]:
    v = it.get(prop, {}).get(key) if prop else it.get(key)
    check(v == {"Fn::If": [cond, True, False]}, f"IdempotencyTable's {key} is {v}, want !If [{cond}, true, false]")
    check(cfn["Conditions"].get(cond) == {"Fn::Equals": [{"Ref": param}, "true"]}, f"{cond} is not {param} == 'true'")
    check(params.get(param, {}).get("Default") == "true", f"{param} does not default to true")

# Alarms: both to the topic, on alarm and on recovery.
topic = [{"Ref": "AlarmTopic"}]
check(res["AlarmTopic"]["Type"] == "AWS::SNS::Topic", "AlarmTopic is not an SNS topic")
sub = res.get("AlarmEmailSubscription", {})
check(sub.get("Condition") == "AlarmEmailSet" and sub.get("Properties", {}).get("Endpoint") == {"Ref": "AlarmEmail"}
      and params.get("AlarmEmail", {}).get("Default") == "",
      "the e-mail subscription is not conditional on AlarmEmail (default empty)")
check(cfn["Conditions"].get("AlarmEmailSet") == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
      "AlarmEmailSet is not AlarmEmail != ''")
for name, metric, queue, stat, periods, threshold in [
        ("DeadLetterQueueAlarm", "ApproximateNumberOfMessagesVisible", "WebhookDLQ", "Maximum", 1, 0),
        ("OldestMessageAlarm", "ApproximateAgeOfOldestMessage", "WebhookQueue", "Maximum", None, {"Ref": "OldestMessageAlarmSeconds"}),
        ("DeadLetterAgeAlarm", "ApproximateAgeOfOldestMessage", "WebhookDLQ", "Maximum", 1, {"Ref": "DeadLetterAgeAlarmSeconds"})]:
    a = res[name]["Properties"]
    check(a.get("Namespace") == "AWS/SQS" and a.get("MetricName") == metric, f"{name} does not watch {metric}")
    check(a.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}], f"{name} does not watch {queue}")
    check(a.get("Statistic") == stat and int(a.get("Period")) == 60, f"{name} is not the {stat} over 60 s")
    check(periods is None or int(a.get("EvaluationPeriods")) == periods, f"{name} does not evaluate {periods} period(s)")
    check(a.get("Threshold") == threshold and a.get("ComparisonOperator") == "GreaterThanThreshold",
          f"{name} does not fire above {threshold}")
    check(a.get("TreatMissingData") == "notBreaching", f"{name} treats missing data as breaching")
    check(a.get("AlarmActions") == topic and a.get("OKActions") == topic, f"{name} does not notify AlarmTopic on alarm and OK")
check(default("OldestMessageAlarmSeconds") == 3600, "OldestMessageAlarmSeconds does not default to 3600")
# The DLQ-age alarm fires well before the DLQ's retention deletes a message, even one
# SQS moved there with its first enqueue time (the queue's retention already spent).
dlq_ret = int(res["WebhookDLQ"]["Properties"]["MessageRetentionPeriod"])
check(default("DeadLetterAgeAlarmSeconds") == 259200, "DeadLetterAgeAlarmSeconds does not default to 259200 (3 days)")
check(int(params["DeadLetterAgeAlarmSeconds"]["MaxValue"]) <= dlq_ret - qret,
      f"DeadLetterAgeAlarmSeconds may exceed {dlq_ret - qret} s, the least a moved message has left in the DLQ")

# Idle cost: the dashboard and the sources secret exist only when asked for; ingest
# reads the parameter by default (the secret otherwise); the processor's metrics are
# totals by outcome unless MetricsDetail says more.
conds = cfn["Conditions"]
check(res["Dashboard"].get("Condition") == "DashboardOn" and params["CreateDashboard"]["Default"] == "false"
      and conds.get("DashboardOn") == {"Fn::Equals": [{"Ref": "CreateDashboard"}, "true"]},
      "the dashboard is not conditional on CreateDashboard (default false)")
check(res["SourcesSecret"].get("Condition") == "SourcesInSecret" and params["SourcesStore"]["Default"] == "parameter"
      and conds.get("SourcesInSecret") == {"Fn::Equals": [{"Ref": "SourcesStore"}, "secret"]}
      and conds.get("SourcesInParameter") == {"Fn::Equals": [{"Ref": "SourcesStore"}, "parameter"]},
      "the sources secret is not conditional on SourcesStore=secret (default parameter)")
ienv = res["IngestFunction"]["Properties"]["Environment"]["Variables"]
check(ienv.get("TENAZ_SOURCES_PARAMETER") == {"Fn::If": ["SourcesInParameter", sources_parameter_name, {"Ref": "AWS::NoValue"}]}
      and ienv.get("TENAZ_SOURCES_SECRET_ID") == {"Fn::If": ["SourcesInSecret", {"Ref": "SourcesSecret"}, {"Ref": "AWS::NoValue"}]},
      "ingest is not given exactly one of TENAZ_SOURCES_PARAMETER and TENAZ_SOURCES_SECRET_ID, as SourcesStore says")
check(res["ProcessorFunction"]["Properties"]["Environment"]["Variables"].get("TENAZ_METRICS_DETAIL") == {"Ref": "MetricsDetail"}
      and params["MetricsDetail"]["Default"] == "outcome", "the processor's TENAZ_METRICS_DETAIL is not MetricsDetail (default outcome)")
for name, cond in [("DashboardName", "DashboardOn"), ("SourcesSecretArn", "SourcesInSecret"), ("SourcesParameterName", "SourcesInParameter")]:
    check(cfn["Outputs"].get(name, {}).get("Condition") == cond, f"output {name} is not conditional on {cond}")

# The dashboard body, with placeholders for what !Sub fills in, is JSON and shows
# every metric it is meant to.
text = res["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
check(isinstance(text, str), "the dashboard body is not a plain !Sub string")
for var in set(re.findall(r"\$\{([^}!]+)\}", str(text))):
    check(var.split(".")[0] in res or var.startswith("AWS::"), f"the dashboard names ${{{var}}}, not a resource of this template")
    text = text.replace("${" + var + "}", "placeholder-" + var)
try:
    dash = json.loads(text)
except ValueError as e:
    errors.append(f"the dashboard body is not JSON: {e}")
    dash = {"widgets": []}
shown = json.dumps(dash)
for want in ['"AWS/ApiGateway", "Count", "ApiId", "placeholder-WebhookApi"',
             '"AWS/SQS", "NumberOfMessagesSent", "QueueName", "placeholder-WebhookQueue.QueueName"',
             '"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "placeholder-WebhookDLQ.QueueName"',
             '"AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "placeholder-WebhookQueue.QueueName"']:
    check(want in shown, f"the dashboard does not show [{want}]")
exprs = [m["expression"] for w in dash["widgets"] for row in w["properties"].get("metrics", [])
         for m in row if isinstance(m, dict) and "expression" in m]
# The outcome totals, without dimensions: they exist at every MetricsDetail.
for metric in ["processed", "duplicate", "unrouted", "deferred", "retried", "deadLettered", "failed"]:
    check(f'"Tenaz", "{metric}", {{' in shown, f"the dashboard does not show the Tenaz total {metric}")
check(any("SEARCH('{Tenaz,dependency,to} MetricName=\"breakerTransition\"', 'Sum', 60)" in e for e in exprs),
      "the dashboard has no SEARCH for breakerTransition")

# The guarded door: ingest's reserved concurrency (-1 = unreserved), the HTTP API's
# throttling and access logs, and the 5xx-rate alarm to the alarm topic.
check(default("IngestReservedConcurrency") == 50 and int(params["IngestReservedConcurrency"]["MinValue"]) == -1,
      "IngestReservedConcurrency does not default to 50 with -1 for unreserved")
check(res["IngestFunction"]["Properties"].get("ReservedConcurrentExecutions")
      == {"Fn::If": ["IngestConcurrencyReserved", {"Ref": "IngestReservedConcurrency"}, {"Ref": "AWS::NoValue"}]},
      "IngestFunction's ReservedConcurrentExecutions is not the parameter (unless -1)")
check(cfn["Conditions"].get("IngestConcurrencyReserved") == {"Fn::Not": [{"Fn::Equals": [{"Ref": "IngestReservedConcurrency"}, -1]}]},
      "IngestConcurrencyReserved is not IngestReservedConcurrency != -1")
stages = [r["Properties"] for r in res.values() if r.get("Type") == "AWS::ApiGatewayV2::Stage"
          and r["Properties"].get("ApiId") == {"Ref": "WebhookApi"}]
check(len(stages) == 1, f"WebhookApi has {len(stages)} stages, want 1")
for st in stages:
    drs = st.get("DefaultRouteSettings", {})
    check(drs.get("ThrottlingRateLimit") == {"Ref": "ApiThrottleRateLimit"}
          and drs.get("ThrottlingBurstLimit") == {"Ref": "ApiThrottleBurstLimit"},
          f"the API stage's throttling is {drs}, want the ApiThrottle* parameters")
    als = st.get("AccessLogSettings", {})
    check(als.get("DestinationArn") == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]} and als.get("Format", "").startswith("{"),
          "the API stage does not write JSON access logs to ApiAccessLogGroup")
check(res["ApiAccessLogGroup"]["Properties"].get("RetentionInDays") == {"Ref": "ApiAccessLogRetentionDays"}
      and default("ApiAccessLogRetentionDays") == 14, "the access log group does not keep logs ApiAccessLogRetentionDays (14) days")
a5 = res["Ingest5xxAlarm"]["Properties"]
check(a5.get("AlarmActions") == topic and a5.get("OKActions") == topic, "Ingest5xxAlarm does not notify the alarm topic")
stats = {m["Id"]: m["MetricStat"]["Metric"] for m in a5.get("Metrics", []) if "MetricStat" in m}
check({(m["Namespace"], m["MetricName"]) for m in stats.values()} == {("AWS/ApiGateway", "5xx"), ("AWS/ApiGateway", "Count")}
      and all(m.get("Dimensions") == [{"Name": "ApiId", "Value": {"Ref": "WebhookApi"}}] for m in stats.values()),
      "Ingest5xxAlarm is not on the HTTP API's 5xx and Count")

# The claim-check body bucket: private, encrypted, expiring after every message that
# may refer to a body. An explicit dead-letter send restarts a message's retention, so
# a body can be referred to for the webhook queue's retention + the DLQ's (4 + 14 = 18
# days); two more days for lifecycle's once-a-day run.
bb = res["BodyBucket"]
bbp = bb["Properties"]
check(bbp["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256",
      "BodyBucket is not SSE-S3")
check(all(bbp.get("PublicAccessBlockConfiguration", {}).get(k) is True
          for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")),
      "BodyBucket does not block all public access")
check(bbp.get("OwnershipControls") == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, "BodyBucket's ACLs are not disabled")
expiry = [r.get("ExpirationInDays") for r in bbp.get("LifecycleConfiguration", {}).get("Rules", [])
          if r.get("Status") == "Enabled" and "Prefix" not in r and "Filter" not in r]
dlq_days = int(res["WebhookDLQ"]["Properties"]["MessageRetentionPeriod"]) / 86400
lived = qret / 86400 + dlq_days
check(len(expiry) == 1 and int(expiry[0]) >= lived + 2,
      f"BodyBucket's expiry {expiry} is not one whole-bucket rule of at least {lived:g} + 2 days (queue + DLQ retention)")
check(bb.get("DeletionPolicy") == "Retain", "BodyBucket is not retained with the stack")
tls = [st for st in res["BodyBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
       if st.get("Effect") == "Deny" and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
check(res["BodyBucketPolicy"]["Properties"].get("Bucket") == {"Ref": "BodyBucket"} and len(tls) == 1,
      "BodyBucket's policy does not deny requests without TLS")

# Every function that reads or writes the queues names the body bucket and the inline
# limit; ingest's body limit is what Lambda can receive.
for fn in ("IngestFunction", "ProcessorFunction", "RedriveFunction"):
    fenv = res[fn]["Properties"].get("Environment", {}).get("Variables", {})
    check(fenv.get("TENAZ_BODY_BUCKET") == {"Ref": "BodyBucket"}, f"{fn}'s TENAZ_BODY_BUCKET is {fenv.get('TENAZ_BODY_BUCKET')}, want !Ref BodyBucket")
    check(fenv.get("TENAZ_INLINE_MAX_BYTES") == {"Ref": "InlineMaxBytes"},
          f"{fn}'s TENAZ_INLINE_MAX_BYTES is {fenv.get('TENAZ_INLINE_MAX_BYTES')}, want !Ref InlineMaxBytes")
check(default("InlineMaxBytes") == 458752 and int(params["InlineMaxBytes"]["MaxValue"]) <= 1048576,
      "InlineMaxBytes does not default to 458752 with at most 1048576 (SQS's 1 MiB)")
ienv = res["IngestFunction"]["Properties"]["Environment"]["Variables"]
check(ienv.get("TENAZ_MAX_BODY_BYTES") == {"Ref": "MaxBodyBytes"}, "the ingest's TENAZ_MAX_BODY_BYTES is not !Ref MaxBodyBytes")
check(default("MaxBodyBytes") == 6291456 and int(params["MaxBodyBytes"]["MaxValue"]) == 6291456,
      "MaxBodyBytes does not default to 6291456 (6 MiB, what Lambda can receive) with that as its most")

if errors:
    print("\n".join("check-template: " + e for e in errors), file=sys.stderr)
    sys.exit(1)
print("ok template invariants")
PY

step "sam build -> $build_dir"
rm -rf "$build_dir"
"$sam" build --template template.yaml --build-dir "$build_dir" --build-in-source

# is_arm64_elf FILE: a 64-bit little-endian ELF executable for AArch64 (e_machine 183).
is_arm64_elf() {
  local magic class data machine
  magic=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
  class=$(od -An -tu1 -j4 -N1 "$1" | tr -d ' \n')
  data=$(od -An -tu1 -j5 -N1 "$1" | tr -d ' \n')
  machine=$(od -An -tu2 -j18 -N2 --endian=little "$1" | tr -d ' \n')
  [ "$magic" = 7f454c46 ] && [ "$class" = 2 ] && [ "$data" = 1 ] && [ "$machine" = 183 ]
}

# Every function in the built template must have an arm64 bootstrap in its CodeUri.
functions=$("$root/.venv/bin/python" - "$build_dir/template.yaml" <<'PY'
import sys, yaml
resources = yaml.safe_load(open(sys.argv[1]))["Resources"]
for name, res in resources.items():
    if res.get("Type") == "AWS::Serverless::Function":
        print(name, res["Properties"]["CodeUri"])
PY
)
[ -n "$functions" ] || { echo "check-template: no functions in $build_dir/template.yaml" >&2; exit 1; }
while read -r fn code; do
  bin=$build_dir/$code/bootstrap
  [ -f "$bin" ] || { echo "check-template: $fn: $bin was not built" >&2; exit 1; }
  [ -x "$bin" ] || { echo "check-template: $fn: $bin is not executable" >&2; exit 1; }
  is_arm64_elf "$bin" || { echo "check-template: $fn: $bin is not a Linux arm64 ELF executable" >&2; exit 1; }
  echo "ok $fn: $code/bootstrap is a Linux arm64 ELF executable, $(wc -c <"$bin") bytes"
done <<<"$functions"
echo "check-template: ok"
