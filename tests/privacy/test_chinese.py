"""Chinese PII: recognizers registered for language zh, the analyze API, and a Chinese CSV scanned and masked."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.privacy.models import PiiFinding
from governance.privacy.recognizers.zh import detect_language, resident_id_check_char, resident_id_valid
from tests.factories import csv_file

SALT = "a-test-salt-that-is-long-enough"


def _spans(analyzer, text, language="zh"):
    return [(r.entity_type, text[r.start : r.end]) for r in analyzer.analyze_batch([text], language=language)[0]]


def _valid_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def test_name_mobile_and_address_are_found_in_one_line(analyzer):
    text = "张伟 13812345678 北京市朝阳区建国路88号"
    assert _spans(analyzer, text) == [
        ("PERSON", "张伟"),
        ("PHONE_NUMBER", "13812345678"),
        ("STREET_ADDRESS", "北京市朝阳区建国路88号"),
    ]


@pytest.mark.parametrize("phone", ["13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "0086 13812345678"])
def test_mainland_mobiles_with_and_without_country_code_and_separators(analyzer, phone):
    assert _spans(analyzer, f"手机：{phone}，谢谢") == [("PHONE_NUMBER", phone)]


def test_resident_id_needs_a_real_birth_date_and_counts_a_bad_check_character_only_next_to_a_label(analyzer):
    good = _valid_id("11010519900307123")
    assert resident_id_valid(good) and not resident_id_valid("110105199003071234")
    assert _spans(analyzer, f"订单备注 {good}") == [("CN_RESIDENT_ID", good)]
    # A typo in the check character: a resident id only where the text says so.
    assert _spans(analyzer, "身份证 110105199003071234") == [("CN_RESIDENT_ID", "110105199003071234")]
    assert _spans(analyzer, "订单备注 110105199003071234") == []
    bad_date = _valid_id("11010519901307123")  # month 13
    assert _spans(analyzer, f"身份证 {bad_date}") == []


def test_bank_cards_need_luhn_or_a_card_word_for_unionpay(analyzer):
    assert _spans(analyzer, "付款 6259838675650889") == [("CREDIT_CARD", "6259838675650889")]
    assert _spans(analyzer, "付款 6222020200112233445") == []  # UnionPay length, no Luhn digit, no label
    assert _spans(analyzer, "银行卡 6222020200112233445") == [("CREDIT_CARD", "6222020200112233445")]


def test_names_come_from_surnames_and_part_of_speech_not_from_brands(analyzer):
    text = "我叫李娜，收货人王小明，欧阳娜娜也来了。华为和小米的手机都不错。"
    names = [s for t, s in _spans(analyzer, text) if t == "PERSON"]
    assert names == ["李娜", "王小明", "欧阳娜娜"]


def test_emails_and_ips_are_found_between_chinese_characters(analyzer):
    text = "请联系lina@corp.local谢谢，登录IP是192.168.1.10。"
    assert _spans(analyzer, text) == [("EMAIL_ADDRESS", "lina@corp.local"), ("IP_ADDRESS", "192.168.1.10")]


def test_language_is_told_by_the_share_of_chinese_characters(analyzer):
    assert detect_language("张伟 13812345678") == "zh" and detect_language("Call 张伟 at the office today") == "en"
    # auto: each text to its own analyzer.
    texts = ["张伟住在北京市朝阳区建国路88号", "Mail me at ann@example.com"]
    found = analyzer.analyze_batch(texts, language="auto")
    assert [r.entity_type for r in found[0]] == ["PERSON", "STREET_ADDRESS"]
    assert [r.entity_type for r in found[1]] == ["EMAIL_ADDRESS"]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh", "auto"])
def test_analyze_api_finds_chinese_pii(api_as, language):
    texts = ["张伟 13812345678 北京市朝阳区建国路88号", "身份证 110105199003071234"]
    response = api_as("steward").post("/api/v1/pii/analyze/", {"texts": texts, "language": language}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["entity_type"], texts[0][r["start"] : r["end"]]) for r in results[0]] == [
        ("PERSON", "张伟"),
        ("PHONE_NUMBER", "13812345678"),
        ("STREET_ADDRESS", "北京市朝阳区建国路88号"),
    ]
    assert [(r["entity_type"], texts[1][r["start"] : r["end"]]) for r in results[1]] == [
        ("CN_RESIDENT_ID", "110105199003071234")
    ]


@pytest.mark.django_db
def test_analyze_api_refuses_entities_unknown_to_the_language(api_as):
    body = {"texts": ["张伟"], "language": "zh", "entities": ["US_SSN"]}
    response = api_as("steward").post("/api/v1/pii/analyze/", body, format="json")
    assert response.status_code == 400 and "unknown entities for language 'zh'" in response.json()["detail"]


NAMES = ["张伟", "李娜", "王小明", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴芳", "徐强", "孙丽"]
ADDRESSES = [
    "北京市朝阳区建国路88号",
    "上海市浦东新区世纪大道100号",
    "广东省广州市天河区体育西路123号",
    "浙江省杭州市西湖区文三路478号",
]


PHONES = [f"13{i % 10}{i:04d}{(i * 37) % 10000:04d}" for i in range(2 * len(NAMES))]


def _chinese_csv() -> str:
    lines = ["会员编号,姓名,手机,收货地址,城市,评价"]
    for i, name in enumerate(NAMES * 2):
        phone = PHONES[i]
        review = f"很好用，有问题请联系{name}，电话{phone}。" if i % 3 == 0 else "质量不错，物流很快，下次还会再买。"
        lines.append(
            f"{i + 1},{name},{phone},{ADDRESSES[i % 4]},{['北京市', '上海市', '广州市', '杭州市'][i % 4]},{review}"
        )
    return "\n".join(lines) + "\n"


@override_settings(STEWARD_PII_HASH_SALT=SALT)
@pytest.mark.django_db
def test_chinese_csv_uploaded_through_the_api_is_scanned_flagged_and_masked(
    steward_api, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    dataset = steward_api.post("/api/v1/datasets/", {"name": "会员", "description": "zh shop"}, format="json").json()
    upload = csv_file(_chinese_csv(), "members.csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(f"/api/v1/datasets/{dataset['id']}/versions/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    version = DatasetVersion.objects.get(pk=response.json()["id"])
    findings = {f.column: f for f in PiiFinding.objects.filter(version=version)}
    assert {c: (f.kind, f.entity_type) for c, f in findings.items()} == {
        "姓名": ("entity", "PERSON"),
        "手机": ("entity", "PHONE_NUMBER"),
        "收货地址": ("entity", "STREET_ADDRESS"),
        "城市": ("entity", "LOCATION"),
        "评价": ("free_text", "PHONE_NUMBER"),
    }
    assert {e["entity_type"] for e in findings["评价"].evidence["entities"]} == {"PHONE_NUMBER", "PERSON"}
    assert findings["姓名"].evidence["language"] == "zh"
    assert not any(n in str(f.evidence) for f in findings.values() for n in NAMES)

    policy = {
        "columns": {
            "姓名": {"operator": "pseudonymize"},
            "手机": {"operator": "pseudonymize"},
            "收货地址": {"operator": "pseudonymize"},
            "城市": {"operator": "redact"},
            "评价": {"operator": "replace"},
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(f"/api/v1/dataset-versions/{version.pk}/mask/", policy, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded", job.error
    masked = job.result["dataset_version"]
    rows = steward_api.get(f"/api/v1/dataset-versions/{masked}/rows/?limit=100").json()["results"]
    text = str(rows)
    assert not any(n in text for n in NAMES) and not any(p in text for p in PHONES)
    assert not any(a in text for a in ADDRESSES)
    # Pseudonyms are Chinese names and addresses, consistent per original.
    assert all(detect_language(r["姓名"]) == "zh" and 2 <= len(r["姓名"]) <= 4 for r in rows)
    assert all("省" in r["收货地址"] or "市" in r["收货地址"] or "区" in r["收货地址"] for r in rows)
    assert rows[0]["姓名"] == rows[len(NAMES)]["姓名"]
    assert "<PHONE_NUMBER>" in rows[0]["评价"] and "<PERSON>" in rows[0]["评价"]
    assert rows[1]["评价"] == "质量不错，物流很快，下次还会再买。"
