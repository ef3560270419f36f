"""Non-idempotent creates whose answer is lost, refused or throttled, through tests/awsharness.py.

AWS may apply a write and the caller still get a timeout or a 500. botocore would then send the
create again: a second access key whose secret nobody holds, a "password already exists" for our
own password, a duplicate policy version. The proxy in front of the emulator forwards the call
(so moto applies it) and answers 500 (`applied_then_500`), or refuses (`deny`, `throttle`).
Applies run in-process against the people account only, with the real gpg reading the results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from awsharness import AwsHarness, Fault, Lag, Lose, Rule
from iamlayer.apply.run import apply_plan
from iamlayer.aws.session import ApiStats
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from iamlayer.state.journal import Journal
from layer import Layer, apply_now

pytestmark = pytest.mark.proof  # a long proof: `make proof`

PEOPLE = ["security"]


@pytest.fixture
def proxy(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsHarness]:
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as p:
        monkeypatch.setenv("AWS_ENDPOINT_URL", p.url)
        yield p


def apply_people(layer: Layer) -> None:
    apply_now(layer, PEOPLE)


def converged(layer: Layer) -> bool:
    return make_plan(load_spec(layer.spec), profile=None, only=PEOPLE).empty


def journal(layer: Layer) -> Journal:
    return Journal.for_spec(load_spec(layer.spec))


def machine_keys(layer: Layer) -> list[str]:
    keys = layer.iam("security").list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    return [k["AccessKeyId"] for k in keys]


def readable_key(layer: Layer) -> str:
    """The one access key file's id, after proving its secret is the live key's (sts, as a person would)."""
    [f] = list((layer.root / "outputs" / "security" / "machine.ci").glob("access-key-*.asc"))
    key_id = f.name[len("access-key-") : -len(".asc")]
    secret = layer.keys.gpg.decrypt(f)
    ident = boto3.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret).get_caller_identity()
    assert ident["Arn"].endswith(":user/machine.ci")
    return key_id


def test_a_lost_create_access_key_answer_leaves_one_key_and_its_secret(
    layer: Layer, proxy: AwsHarness
) -> None:
    rule = proxy.add(Rule("CreateAccessKey", "applied_then_500", times=1))
    apply_people(layer)
    assert rule.hits == 1
    # the key the lost call made was found and deleted before the create was sent again
    assert proxy.seen.count("CreateAccessKey") == 2 and proxy.seen.count("DeleteAccessKey") == 1
    assert machine_keys(layer) == [readable_key(layer)]
    assert journal(layer).pending("access_keys", "security") == frozenset()
    assert converged(layer)


@pytest.mark.parametrize("action", ["CreateUser", "CreateRole", "CreatePolicy"])
def test_a_lost_create_answer_is_checked_once_iam_shows_what_it_made(
    layer: Layer, proxy: AwsHarness, action: str
) -> None:
    """AWS made the user (role, policy) but the answer was lost; botocore sends the create again and
    gets EntityAlreadyExists. IAM's reads lag behind its writes, so the ownership check that follows
    answers NoSuchEntity for a moment: it waits for IAM instead of failing the apply."""
    proxy.lag = Lag(2.0)
    proxy.lose = Lose(actions=frozenset({action}), how="500", times=1)
    apply_people(layer)
    [lost] = proxy.lost
    [_, again] = [c for c in proxy.calls if c.action == action and c.params == lost.params]
    assert lost.action == action and again.status == 409  # botocore's resend: EntityAlreadyExists
    assert proxy.count(fault=Fault.LAG_NOT_FOUND) > 0
    assert converged(layer)


def test_a_refused_create_access_key_closes_its_journal_entry(layer: Layer, proxy: AwsHarness) -> None:
    proxy.add(Rule("CreateAccessKey", "deny"))
    spec = load_spec(layer.spec)
    outcome = apply_plan(make_plan(spec, profile=None, only=PEOPLE), spec, profile=None, stats=ApiStats())
    [(change, error)] = outcome.failed
    assert str(change.address) == "security/access_key.machine.ci" and "AccessDenied" in error
    assert journal(layer).pending("access_keys", "security") == frozenset()
    # so a key the operator makes by hand later is only noted, never planned for deletion
    proxy.clear()
    layer.iam("security").create_access_key(UserName="machine.ci")
    plan = make_plan(spec, profile=None, only=PEOPLE)
    assert plan.empty
    assert any("have no encrypted secret" in n for a in plan.accounts for n in a.notices)


def test_a_throttled_create_access_key_is_sent_again(layer: Layer, proxy: AwsHarness) -> None:
    rule = proxy.add(Rule("CreateAccessKey", "throttle", times=2))
    apply_people(layer)
    assert rule.hits == 2 and proxy.seen.count("CreateAccessKey") == 3
    assert machine_keys(layer) == [readable_key(layer)]


def test_a_lost_create_login_profile_answer_keeps_the_password_it_made_live(
    layer: Layer, proxy: AwsHarness
) -> None:
    proxy.add(Rule("CreateLoginProfile", "applied_then_500", times=1))
    apply_people(layer)  # the resend answers EntityAlreadyExists: our own password, not a failure
    first, second = proxy.bodies["CreateLoginProfile"]
    assert first == second  # the same password both times
    folder = layer.root / "outputs" / "security" / "jane.doe"
    assert not (folder / "password.asc.pending").exists()
    password = layer.keys.gpg.decrypt(folder / "password.asc")
    assert f"Password={password}&" in first + "&"
    assert converged(layer)


def test_a_login_profile_made_by_someone_else_is_not_taken_for_ours(layer: Layer) -> None:
    apply_people(layer)
    iam = layer.iam("security")
    folder = layer.root / "outputs" / "security" / "jane.doe"
    iam.delete_login_profile(UserName="jane.doe")
    (folder / "password.asc").unlink()
    spec = load_spec(layer.spec)
    plan = make_plan(spec, profile=None, only=PEOPLE)
    assert [str(c.address) for c in plan.changes] == ["security/login_profile.jane.doe"]
    # between plan and apply, jane.doe gets a console password from someone else
    iam.create_login_profile(UserName="jane.doe", Password="Made-by-hand-1234567890-abcdefgh!")
    outcome = apply_plan(plan, spec, profile=None, stats=ApiStats())
    [(_, error)] = outcome.failed
    assert "console password that iamlayer did not set" in error and "password reset jane.doe" in error
    assert not list(folder.glob("password.asc*"))  # nothing claims to hold a password that is not live


def test_a_lost_create_group_answer_finishes_the_group(layer: Layer, proxy: AwsHarness) -> None:
    proxy.add(Rule("CreateGroup", "applied_then_500", times=1, contains="GroupName=devops"))
    apply_people(layer)
    assert proxy.seen.count("CreateGroup") == 4  # devops twice, auditors, finops
    names = layer.iam("security").list_group_policies(GroupName="devops")["PolicyNames"]
    assert "iamlayer-owner-acme" in names
    assert converged(layer)


def test_a_group_someone_else_made_after_the_plan_is_not_adopted(layer: Layer) -> None:
    spec = load_spec(layer.spec)
    plan = make_plan(spec, profile=None, only=PEOPLE)
    layer.iam("security").create_group(GroupName="finops")
    outcome = apply_plan(plan, spec, profile=None, stats=ApiStats())
    [(change, error)] = outcome.failed
    assert str(change.address) == "security/group.finops"
    assert "a group of that name appeared after the plan was made" in error
    assert "put-group-policy --group-name finops" in error  # how to adopt it, if it should be
    assert layer.iam("security").list_group_policies(GroupName="finops")["PolicyNames"] == []
    assert journal(layer).pending("groups", "security") == frozenset()
    # and the next plan calls it what it is: a collision, not ours
    again = make_plan(spec, profile=None, only=PEOPLE)
    assert "group finops exists but was not created by iamlayer" in (again.accounts[0].error or "")


def test_a_lost_create_policy_version_answer_makes_one_version(layer: Layer, proxy: AwsHarness) -> None:
    apply_people(layer)
    layer.edit('"cur:Describe*"', '"cur:Describe*", "budgets:View*"')
    proxy.add(Rule("CreatePolicyVersion", "applied_then_500", times=1))
    apply_people(layer)
    arn = f"arn:aws:iam::{layer.ids['security']}:policy/billing-read"
    versions = layer.iam("security").list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2"]
    [default] = [v for v in versions if v["IsDefaultVersion"]]
    doc = layer.iam("security").get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])
    assert "budgets:View*" in json.dumps(doc["PolicyVersion"]["Document"])
    assert proxy.seen.count("CreatePolicyVersion") == 1
    assert converged(layer)


def test_with_sdk_retries_a_lost_answer_would_have_made_two_keys(layer: Layer, proxy: AwsHarness) -> None:
    """The emulator and proxy reproduce the finding: an SDK-retried CreateAccessKey makes two keys."""
    proxy.add(Rule("CreateAccessKey", "applied_then_500", times=1))
    iam = layer.iam("security")
    iam.create_user(UserName="probe")
    iam.create_access_key(UserName="probe")  # botocore retries the 500; the first attempt went through
    assert len(iam.list_access_keys(UserName="probe")["AccessKeyMetadata"]) == 2
