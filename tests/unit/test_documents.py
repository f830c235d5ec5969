"""The document rules: types by content, names that must match, limits per purpose."""

from __future__ import annotations

from asnflow.domain import documents as docs

PDF = b"%PDF-1.7\n..."
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "


def test_types_come_from_the_first_bytes() -> None:
    assert [docs.sniff(b) for b in (PDF, JPEG, PNG, WEBP)] == ["application/pdf", "image/jpeg", "image/png", "image/webp"]
    assert docs.sniff(b"MZ\x90\x00") is None and docs.sniff(b"<html>") is None and docs.sniff(b"RIFF\x00\x00\x00\x00WAVE") is None


def test_a_file_is_checked_by_content_name_and_size() -> None:
    cert = docs.PURPOSES["training_certificate"]
    assert docs.check_file(cert, "sertifikat.PDF", PDF) == ("application/pdf", [])
    assert docs.check_file(cert, "foto.jpeg", JPEG)[0] == "image/jpeg"
    media, problems = docs.check_file(cert, "foto.webp", WEBP)  # webp is for complaints only
    assert media is None and "bukan jenis yang diizinkan" in problems[0]["id"]
    media, problems = docs.check_file(cert, "laporan.pdf", b"MZ\x90\x00")
    assert media is None and problems[0]["en"].startswith("The file's content is not an allowed type")
    media, problems = docs.check_file(cert, "scan.png", PDF)  # a PDF named .png
    assert media == "application/pdf" and problems[0]["field"] == "file"
    assert docs.check_file(cert, "kosong.pdf", b"")[1][0]["en"] == "The file is empty."
    assert "10 MB" in docs.check_file(cert, "besar.pdf", PDF + b"0" * cert.max_bytes)[1][0]["id"]


def test_names_lose_folders_and_control_characters() -> None:
    assert docs.clean_name("../../etc/passwd") == "passwd"
    assert docs.clean_name("C:\\Users\\x\\bukti\x00.pdf") == "bukti.pdf"
    assert docs.clean_name(None) == "" and len(docs.clean_name("a" * 500 + ".pdf")) == 200
    assert docs.claim_case_id("training_certificate", "ab" * 32) == "document-claim-training_certificate-" + "ab" * 32
