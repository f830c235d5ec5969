"""Employee directory: SIASN-like CSV import (all-or-nothing) and role derivation."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from asnflow.domain.nip import (
    NIP_CHECK_MESSAGES,
    InvalidNip,
    Nip,
    NiPppk,
    check_nip_against,
    normalise_nip,
    parse_ni_pppk,
    parse_nip,
)
from asnflow.domain.personal import InvalidPersonalData, normalise_email, normalise_phone, parse_nik
from asnflow.domain.organisation import (
    BKPSDMD,
    PENDIDIKAN,
    SETDA,
    Golongan,
    InvalidGolongan,
    JenisJabatan,
    Role,
    normalise_pendidikan,
    parse_golongan,
)

CSV_COLUMNS: tuple[str, ...] = (
    "nip",
    "nama",
    "jenis_kelamin",
    "tanggal_lahir",
    "golongan",
    "jabatan",
    "jenis_jabatan",
    "unit",
    "atasan_nip",
    "pendidikan",
    "tmt_golongan",
    "tmt_jabatan",
)
# Optional columns (a file without them is still valid): what promotion eligibility needs beyond the
# SIASN core. A disciplinary sanction (PP 94/2021: RINGAN, SEDANG, BERAT) with its period, and the latest
# competency assessment score (0-100, the talent pool's potential axis, PermenPANRB 3/2020).
# Then personal data: NIK, e-mail, phone — encrypted at rest with every stored event, never in a view, shown
# only to the person, BKPSDM and ADMIN (asnflow.domain.personal).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "hukuman_disiplin_jenis",
    "hukuman_disiplin_mulai",
    "hukuman_disiplin_sampai",
    "nilai_kompetensi",
    "nik",
    "email",
    "telepon",
)
ALL_COLUMNS: tuple[str, ...] = CSV_COLUMNS + OPTIONAL_COLUMNS
SANCTION_KINDS: dict[str, tuple[str, str]] = {"RINGAN": ("ringan", "light"), "SEDANG": ("sedang", "moderate"), "BERAT": ("berat", "severe")}
MAX_TEXT = {"nama": 200, "jabatan": 300}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class EmployeeRecord:
    """One employee as imported. An empty golongan marks a PPPK (whose id is an NI PPPK)."""

    nip: str
    nama: str
    jenis_kelamin: str  # 'L' or 'P'
    tanggal_lahir: date
    golongan: str | None  # canonical 'III/a', None for PPPK
    jabatan: str
    jenis_jabatan: JenisJabatan
    unit: str
    atasan_nip: str | None
    pendidikan: str
    tmt_golongan: date | None
    tmt_jabatan: date
    hukuman_disiplin_jenis: str | None = None
    hukuman_disiplin_mulai: date | None = None
    hukuman_disiplin_sampai: date | None = None
    nilai_kompetensi: float | None = None
    nik: str | None = None
    email: str | None = None
    telepon: str | None = None  # +62…

    @property
    def is_pppk(self) -> bool:
        """True for contract staff (no golongan/ruang)."""
        return self.golongan is None

    @property
    def golongan_value(self) -> Golongan | None:
        """The golongan as a value object."""
        return None if self.golongan is None else parse_golongan(self.golongan)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-safe dict (dates as ISO strings, enums as their values)."""
        return {
            "nip": self.nip,
            "nama": self.nama,
            "jenis_kelamin": self.jenis_kelamin,
            "tanggal_lahir": self.tanggal_lahir.isoformat(),
            "golongan": self.golongan,
            "jabatan": self.jabatan,
            "jenis_jabatan": self.jenis_jabatan.value,
            "unit": self.unit,
            "atasan_nip": self.atasan_nip,
            "pendidikan": self.pendidikan,
            "tmt_golongan": self.tmt_golongan.isoformat() if self.tmt_golongan else None,
            "tmt_jabatan": self.tmt_jabatan.isoformat(),
            **self._optional(),
        }

    def _optional(self) -> dict[str, Any]:
        # Only the optional facts that are set: a file without them records exactly what it did before.
        out: dict[str, Any] = {}
        if self.hukuman_disiplin_jenis:
            out["hukuman_disiplin_jenis"] = self.hukuman_disiplin_jenis
            out["hukuman_disiplin_mulai"] = self.hukuman_disiplin_mulai.isoformat() if self.hukuman_disiplin_mulai else None
            out["hukuman_disiplin_sampai"] = self.hukuman_disiplin_sampai.isoformat() if self.hukuman_disiplin_sampai else None
        if self.nilai_kompetensi is not None:
            out["nilai_kompetensi"] = self.nilai_kompetensi
        for key in ("nik", "email", "telepon"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmployeeRecord:
        """Inverse of to_dict (no validation beyond types)."""
        return cls(
            nip=d["nip"],
            nama=d["nama"],
            jenis_kelamin=d["jenis_kelamin"],
            tanggal_lahir=date.fromisoformat(d["tanggal_lahir"]),
            golongan=d.get("golongan") or None,
            jabatan=d["jabatan"],
            jenis_jabatan=JenisJabatan(d["jenis_jabatan"]),
            unit=d["unit"],
            atasan_nip=d.get("atasan_nip") or None,
            pendidikan=d["pendidikan"],
            tmt_golongan=date.fromisoformat(d["tmt_golongan"]) if d.get("tmt_golongan") else None,
            tmt_jabatan=date.fromisoformat(d["tmt_jabatan"]),
            hukuman_disiplin_jenis=d.get("hukuman_disiplin_jenis") or None,
            hukuman_disiplin_mulai=date.fromisoformat(d["hukuman_disiplin_mulai"]) if d.get("hukuman_disiplin_mulai") else None,
            hukuman_disiplin_sampai=date.fromisoformat(d["hukuman_disiplin_sampai"]) if d.get("hukuman_disiplin_sampai") else None,
            nilai_kompetensi=float(d["nilai_kompetensi"]) if d.get("nilai_kompetensi") is not None else None,
            nik=d.get("nik") or None,
            email=d.get("email") or None,
            telepon=d.get("telepon") or None,
        )


class ImportProblem(NamedTuple):
    """One problem in an import file; line 1 is the header."""

    line: int
    field: str
    message_id: str
    message_en: str


class DirectoryImportError(ValueError):
    """The import file was rejected as a whole; `problems` lists every problem found."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, ALL_COLUMNS.index(p.field) if p.field in ALL_COLUMNS else -1))
        n = len(self.problems)
        self.message_id = f"Berkas impor ditolak: {n} masalah ditemukan"
        self.message_en = f"Import file rejected: {n} problem(s) found"
        super().__init__(self.message_en)


def to_csv(records: Iterable[EmployeeRecord]) -> str:
    """Write records in the import format (header + one row each; optional columns only when a record uses them)."""
    recs = list(records)
    columns = CSV_COLUMNS + tuple(c for c in OPTIONAL_COLUMNS if any(c in r.to_dict() for r in recs))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in recs:
        d = r.to_dict()
        writer.writerow(["" if d.get(c) is None else d[c] for c in columns])
    return buf.getvalue()


class _Row:
    """Collects one line's problems while its fields are parsed."""

    def __init__(self, line: int, values: dict[str, str], problems: list[ImportProblem]) -> None:
        self.line, self.values, self.problems, self.ok = line, values, problems, True

    def bad(self, field: str, id_: str, en: str) -> None:
        self.ok = False
        self.problems.append(ImportProblem(self.line, field, id_, en))

    def text(self, field: str, name_id: str, name_en: str) -> str:
        v = self.values[field]
        if not v:
            self.bad(field, f"{name_id} wajib diisi", f"{name_en} is required")
        elif field in MAX_TEXT and len(v) > MAX_TEXT[field]:
            n = MAX_TEXT[field]
            self.bad(field, f"{name_id} paling banyak {n} karakter", f"{name_en} may have at most {n} characters")
        return v

    def date_field(self, field: str, required: bool = True) -> date | None:
        v = self.values[field]
        if not v:
            if required:
                self.bad(field, f"Kolom {field} wajib diisi", f"Column {field} is required")
            return None
        if _ISO_DATE.match(v):
            try:
                return date.fromisoformat(v)
            except ValueError:
                pass
        self.bad(field, f"Tanggal tidak valid: {v!r} (format YYYY-MM-DD)", f"Invalid date: {v!r} (format YYYY-MM-DD)")
        return None


def _parse_row(row: _Row, known_units: set[str] | None) -> EmployeeRecord | None:
    v = row.values
    nama = row.text("nama", "Nama", "Name")
    jabatan = row.text("jabatan", "Jabatan", "Position")

    jk = v["jenis_kelamin"].upper()
    if jk not in ("L", "P"):
        row.bad("jenis_kelamin", "Jenis kelamin harus L atau P", "Sex must be L or P")

    tanggal_lahir = row.date_field("tanggal_lahir")

    golongan: str | None = None
    if v["golongan"]:
        try:
            golongan = parse_golongan(v["golongan"]).code
        except InvalidGolongan as e:
            row.bad("golongan", e.message_id, e.message_en)
    elif v["tmt_golongan"]:
        # Guards against a PNS row whose golongan was left out being read as a PPPK row.
        row.bad(
            "golongan",
            "Golongan wajib diisi bila tmt_golongan diisi (PNS)",
            "Golongan is required when tmt_golongan is given (PNS)",
        )
    tmt_golongan = row.date_field("tmt_golongan", required=bool(v["golongan"]))
    tmt_jabatan = row.date_field("tmt_jabatan")

    jenis: JenisJabatan | None = None
    try:
        jenis = JenisJabatan(v["jenis_jabatan"].upper())
    except ValueError:
        allowed = ", ".join(j.value for j in JenisJabatan)
        row.bad("jenis_jabatan", f"Jenis jabatan harus salah satu dari: {allowed}", f"Position type must be one of: {allowed}")

    unit = v["unit"]
    if not unit:
        row.bad("unit", "Unit kerja wajib diisi", "Unit is required")
    elif known_units is not None and unit not in known_units:
        row.bad("unit", f"Kode unit kerja tidak dikenal: {unit!r}", f"Unknown unit code: {unit!r}")

    pendidikan = normalise_pendidikan(v["pendidikan"]) if v["pendidikan"] else None
    if pendidikan is None:
        allowed = ", ".join(PENDIDIKAN)
        row.bad("pendidikan", f"Pendidikan harus salah satu dari: {allowed}", f"Education must be one of: {allowed}")

    nip_value = normalise_nip(v["nip"])
    parsed: Nip | NiPppk | None = None
    if not nip_value:
        row.bad("nip", "NIP wajib diisi", "NIP is required")
    else:
        # A row without golongan is a PPPK row: its identifier must be an NI PPPK.
        try:
            parsed = parse_nip(nip_value) if v["golongan"] else parse_ni_pppk(nip_value)
        except InvalidNip as e:
            kind = ("NIP", "NIP") if v["golongan"] else ("NI PPPK", "NI PPPK")
            row.bad("nip", f"{kind[0]} tidak valid: {e.message_id}", f"Invalid {kind[1]}: {e.message_en}")
    if isinstance(parsed, Nip):
        # Fields already reported as invalid are replaced by the NIP's own values so they are not reported twice.
        own_jk = jk if jk in ("L", "P") else parsed.sex
        for code in check_nip_against(parsed, tanggal_lahir or parsed.birth_date, own_jk, tmt_golongan):
            field = {"birth_date_mismatch": "tanggal_lahir", "sex_mismatch": "jenis_kelamin"}.get(code, "tmt_golongan")
            msg = NIP_CHECK_MESSAGES[code]
            row.bad(field, msg["id"], msg["en"])
    if isinstance(parsed, NiPppk) and tanggal_lahir is not None and jk in ("L", "P"):
        if parsed.birth_date != tanggal_lahir:
            msg = NIP_CHECK_MESSAGES["birth_date_mismatch"]
            row.bad("tanggal_lahir", msg["id"], msg["en"])
        if parsed.sex != jk:
            msg = NIP_CHECK_MESSAGES["sex_mismatch"]
            row.bad("jenis_kelamin", msg["id"], msg["en"])
    if isinstance(parsed, Nip) and tmt_jabatan is not None and tmt_jabatan < parsed.tmt_cpns:
        row.bad(
            "tmt_jabatan",
            "TMT jabatan lebih awal dari TMT CPNS pada NIP",
            "TMT jabatan is earlier than the TMT CPNS encoded in the NIP",
        )

    sanction = _sanction(row)
    kompetensi = _score(row)
    nik, email, telepon = _personal(row, tanggal_lahir, jk)
    atasan = normalise_nip(v["atasan_nip"]) or None
    if not row.ok:
        return None
    assert tanggal_lahir is not None and tmt_jabatan is not None and jenis is not None and pendidikan is not None
    return EmployeeRecord(
        nip=nip_value,
        nama=nama,
        jenis_kelamin=jk,
        tanggal_lahir=tanggal_lahir,
        golongan=golongan,
        jabatan=jabatan,
        jenis_jabatan=jenis,
        unit=unit,
        atasan_nip=atasan,
        pendidikan=pendidikan,
        tmt_golongan=tmt_golongan,
        tmt_jabatan=tmt_jabatan,
        hukuman_disiplin_jenis=sanction[0],
        hukuman_disiplin_mulai=sanction[1],
        hukuman_disiplin_sampai=sanction[2],
        nilai_kompetensi=kompetensi,
        nik=nik,
        email=email,
        telepon=telepon,
    )


def _sanction(row: _Row) -> tuple[str | None, date | None, date | None]:
    """A disciplinary sanction: kind, from and until all given (or none); until not before from."""
    v = row.values
    kind = v.get("hukuman_disiplin_jenis", "").upper()
    start = row.date_field("hukuman_disiplin_mulai", required=bool(kind)) if "hukuman_disiplin_mulai" in v else None
    until = row.date_field("hukuman_disiplin_sampai", required=bool(kind)) if "hukuman_disiplin_sampai" in v else None
    if not kind:
        if start or until:
            row.bad("hukuman_disiplin_jenis", "Jenis hukuman disiplin wajib diisi bila tanggalnya diisi",
                    "The sanction's kind is required when its dates are given")
        return None, None, None
    if kind not in SANCTION_KINDS:
        allowed = ", ".join(SANCTION_KINDS)
        row.bad("hukuman_disiplin_jenis", f"Jenis hukuman disiplin harus salah satu dari: {allowed} (PP 94/2021)",
                f"The sanction's kind must be one of: {allowed} (PP 94/2021)")
    elif "hukuman_disiplin_mulai" not in v or "hukuman_disiplin_sampai" not in v:
        row.bad("hukuman_disiplin_jenis", "Kolom hukuman_disiplin_mulai dan hukuman_disiplin_sampai wajib ada",
                "Columns hukuman_disiplin_mulai and hukuman_disiplin_sampai are required with a sanction")
    if start and until and until < start:
        row.bad("hukuman_disiplin_sampai", "Akhir hukuman disiplin sebelum awalnya", "The sanction ends before it starts")
    return kind, start, until


def _score(row: _Row) -> float | None:
    """The competency score, 0-100 (empty: not assessed)."""
    raw = row.values.get("nilai_kompetensi", "")
    if not raw:
        return None
    try:
        score = float(raw)
    except ValueError:
        score = -1.0
    if not 0 <= score <= 100:
        row.bad("nilai_kompetensi", f"Nilai kompetensi harus angka 0-100: {raw!r}", f"The competency score must be a number 0-100: {raw!r}")
        return None
    return score


def _personal(row: _Row, tanggal_lahir: date | None, jk: str) -> tuple[str | None, str | None, str | None]:
    """NIK (agreeing with birth date and sex), e-mail and phone, each optional; problems never echo a NIK."""
    values = row.values
    nik = email = telepon = None
    if values.get("nik"):
        try:
            parsed = parse_nik(values["nik"])
        except InvalidPersonalData as e:
            row.bad("nik", e.message_id, e.message_en)
        else:
            nik = parsed.value
            if tanggal_lahir is not None and not parsed.matches_birth_date(tanggal_lahir):
                row.bad("nik", "Tanggal lahir pada NIK tidak sama dengan tanggal_lahir",
                        "The birth date in the NIK differs from tanggal_lahir")
            if jk in ("L", "P") and parsed.sex != jk:
                row.bad("nik", "Jenis kelamin pada NIK (tanggal + 40 untuk perempuan) tidak sama dengan jenis_kelamin",
                        "The sex in the NIK (day + 40 for women) differs from jenis_kelamin")
    for field, normalise in (("email", normalise_email), ("telepon", normalise_phone)):
        if values.get(field):
            try:
                value = normalise(values[field])
            except InvalidPersonalData as e:
                # The rejected value is personal data too: the problem names the field, not the value.
                row.bad(field, e.message_id.split(":")[0], e.message_en.split(":")[0])
            else:
                if field == "email":
                    email = value
                else:
                    telepon = value
    return nik, email, telepon


def _header_problems(header: list[str]) -> list[ImportProblem]:
    problems = []
    seen: set[str] = set()
    for col in header:
        if col in seen:
            problems.append(ImportProblem(1, col, f"Kolom ganda: {col}", f"Duplicate column: {col}"))
        seen.add(col)
    missing = [c for c in CSV_COLUMNS if c not in seen]
    extra = [c for c in header if c not in ALL_COLUMNS]
    if missing:
        problems.append(
            ImportProblem(1, "", f"Kolom wajib tidak ada: {', '.join(missing)}", f"Missing required columns: {', '.join(missing)}")
        )
    if extra:
        problems.append(
            ImportProblem(1, "", f"Kolom tidak dikenal: {', '.join(extra)}", f"Unknown columns: {', '.join(extra)}")
        )
    return problems


def parse_employee_csv(
    text: str,
    known_units: set[str] | None = None,
    existing_nips: Iterable[str] = frozenset(),
) -> list[EmployeeRecord]:
    """Parse a whole directory CSV; raises DirectoryImportError listing every problem if any line is bad."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise DirectoryImportError([ImportProblem(1, "", "Berkas kosong", "The file is empty")]) from None
    problems = _header_problems(header)
    if problems:
        raise DirectoryImportError(problems)

    records: list[EmployeeRecord] = []
    first_line: dict[str, int] = {}  # nip -> line of its first occurrence
    links: list[tuple[int, str, str]] = []  # (line, nip, atasan nip)
    prev_end = reader.line_num
    for raw in reader:
        line, prev_end = prev_end + 1, reader.line_num  # a quoted field may span several physical lines
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(header):
            problems.append(
                ImportProblem(
                    line,
                    "",
                    f"Jumlah kolom {len(raw)}, seharusnya {len(header)}",
                    f"Found {len(raw)} columns, expected {len(header)}",
                )
            )
            continue
        values = {col: cell.strip() for col, cell in zip(header, raw)}
        row = _Row(line, values, problems)
        record = _parse_row(row, known_units)
        if record is not None:
            records.append(record)
        nip = normalise_nip(values["nip"])
        if nip:
            if nip in first_line:
                problems.append(
                    ImportProblem(
                        line,
                        "nip",
                        f"NIP {nip} ganda (sudah ada di baris {first_line[nip]})",
                        f"Duplicate NIP {nip} (already on line {first_line[nip]})",
                    )
                )
            else:
                first_line[nip] = line
                atasan = normalise_nip(values["atasan_nip"])
                if atasan:
                    links.append((line, nip, atasan))

    problems += _supervision_problems(links, set(first_line), set(existing_nips))
    if problems:
        raise DirectoryImportError(problems)
    return records


def _supervision_problems(links: list[tuple[int, str, str]], file_nips: set[str], existing: set[str]) -> list[ImportProblem]:
    problems = []
    graph: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for line, nip, atasan in links:
        line_of[nip] = line
        if atasan == nip:
            problems.append(
                ImportProblem(line, "atasan_nip", "Pegawai tidak boleh menjadi atasannya sendiri", "An employee cannot be their own superior")
            )
        elif atasan not in file_nips and atasan not in existing:
            problems.append(
                ImportProblem(
                    line,
                    "atasan_nip",
                    f"Atasan {atasan} tidak ada di berkas maupun di direktori",
                    f"Superior {atasan} is neither in the file nor in the directory",
                )
            )
        elif atasan in file_nips:
            graph[nip] = atasan
    # Follow each chain; a chain that returns to a node on the current path is a cycle.
    done: set[str] = set()
    for start in graph:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = graph.get(node)
        if node is not None and node in on_path:
            cycle = path[path.index(node):]
            chain = " → ".join([*cycle, node])
            for member in cycle:
                problems.append(
                    ImportProblem(
                        line_of[member],
                        "atasan_nip",
                        f"Rantai atasan membentuk siklus: {chain}",
                        f"Supervision chain forms a cycle: {chain}",
                    )
                )
        done.update(path)
    return problems


def derive_roles(records: Iterable[EmployeeRecord], sekda_unit: str = SETDA, hr_unit: str = BKPSDMD) -> dict[str, list[Role]]:
    """Roles implied by the directory alone (rule in the comment below); special roles are granted elsewhere."""
    # Rule:
    # - everyone is PEGAWAI;
    # - anyone named as someone's atasan_nip is ATASAN;
    # - a unit head is a JPT or ADMINISTRATOR with no superior or whose superior sits in another unit
    #   (or outside the file); unit heads are KEPALA_OPD (this includes Camat, who head kecamatan
    #   offices as administrators, and the Sekda, who heads the Sekretariat Daerah);
    # - the head of the Sekretariat Daerah who is a JPT is SEKDA;
    # - everyone working in BKPSDMD is BKPSDM.
    # TIM_PENILAI, BUPATI, AUDITOR and ADMIN are appointments, not derivable from the directory.
    recs = list(records)
    by_nip = {r.nip: r for r in recs}
    supervisors = {r.atasan_nip for r in recs if r.atasan_nip}
    heads = (JenisJabatan.JPT, JenisJabatan.ADMINISTRATOR)
    result: dict[str, list[Role]] = {}
    for r in recs:
        roles = {Role.PEGAWAI}
        if r.nip in supervisors:
            roles.add(Role.ATASAN)
        boss = by_nip.get(r.atasan_nip) if r.atasan_nip else None
        is_head = r.jenis_jabatan in heads and (boss is None or boss.unit != r.unit)
        if is_head:
            roles.add(Role.KEPALA_OPD)
            if r.unit == sekda_unit and r.jenis_jabatan is JenisJabatan.JPT:
                roles.add(Role.SEKDA)
        if r.unit == hr_unit:
            roles.add(Role.BKPSDM)
        result[r.nip] = [role for role in Role if role in roles]
    return result
