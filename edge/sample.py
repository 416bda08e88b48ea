"""Plausible sample applicants (valid CCCDs, Vietnamese names) for the demo and benchmarks."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from edge.identity import PROVINCE_CODES

SURNAMES = (
    "Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ",
    "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
)  # fmt: skip
MIDDLE = {"male": ("Văn", "Đức", "Minh", "Quang", "Hữu", "Công"), "female": ("Thị", "Thu", "Ngọc", "Thanh", "Bích")}
GIVEN = {
    "male": ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phúc", "Quân", "Sơn", "Tuấn"),
    "female": ("Anh", "Chi", "Dung", "Hà", "Hương", "Lan", "Linh", "Mai", "Ngân", "Phương", "Thảo", "Trang", "Yến"),
}
STREETS = ("Hàng Bạc", "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Quang Trung", "Hai Bà Trưng", "Điện Biên Phủ")


def cccd_for(province: str, born: date, sex: str, rng: random.Random) -> str:
    """Return a CCCD number consistent with a province of birth, a birth date and a sex."""
    century = (born.year // 100 - 19) * 2 + (1 if sex == "female" else 0)
    return f"{province}{century}{born.year % 100:02d}{rng.randrange(10**6):06d}"


def applicant(rng: random.Random) -> dict[str, Any]:
    """Return a random, valid applicant block for POST /dossiers."""
    sex = rng.choice(("male", "female"))
    born = date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28))
    province = rng.choice(sorted(PROVINCE_CODES))
    name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
    return {
        "full_name": name,
        "id_type": "cccd",
        "id_number": cccd_for(province, born, sex, rng),
        "date_of_birth": born.isoformat(),
        "sex": sex,
        "phone": "09" + "".join(rng.choice("0123456789") for _ in range(8)),
        "email": None,
        "address": f"Số {rng.randint(1, 200)} phố {rng.choice(STREETS)}",
    }
