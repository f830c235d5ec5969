"""Page texts in Bahasa Indonesia (first) and English, and the choice between them."""

from __future__ import annotations

from fastapi import Request

LANGS = ("id", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "app.title": ("asnflow · Pemkab Batanghari", "asnflow · Batanghari Regency"),
    "nav.inbox": ("Tugas", "Tasks"),
    "nav.me": ("Perkara saya", "My cases"),
    "nav.audit": ("Audit", "Audit"),
    "nav.dashboards": ("Dasbor", "Dashboards"),
    "nav.complaints": ("Pengaduan", "Complaints"),
    "nav.skip": ("Lewati ke isi", "Skip to content"),
    "auth.token": ("Token", "Token"),
    "auth.demo": ("Pengguna demo", "Demo user"),
    "auth.signin_hint": ("Pilih pengguna demo atau tempel token untuk masuk.", "Pick a demo user or paste a token to sign in."),
    "lang.switch": ("English", "Bahasa Indonesia"),
    "inbox.title": ("Tugas saya", "My tasks"),
    "inbox.scope": ("Cakupan", "Scope"),
    "inbox.scope.inbox": ("Semua tugas saya dan peran saya", "Mine and my roles' pool"),
    "inbox.scope.mine": ("Ditugaskan kepada saya", "Assigned to me"),
    "inbox.scope.pool": ("Kelompok peran saya", "My roles' pool"),
    "inbox.overdue": ("Hanya yang terlambat", "Late only"),
    "inbox.process": ("Proses", "Process"),
    "inbox.any": ("Semua", "Any"),
    "inbox.refresh": ("Muat ulang", "Refresh"),
    "inbox.empty": ("Tidak ada tugas.", "No tasks."),
    "col.select": ("Pilih", "Select"),
    "col.task": ("Tugas", "Task"),
    "col.kind": ("Jenis", "Kind"),
    "col.due": ("Tenggat", "Due"),
    "col.status": ("Status", "Status"),
    "col.actions": ("Tindakan", "Actions"),
    "task.late": ("terlambat", "late"),
    "task.open": ("Buka", "Open"),
    "task.claim": ("Klaim", "Claim"),
    "task.release": ("Lepas", "Release"),
    "decide.title": ("Putuskan", "Decide"),
    "decide.outcome": ("Hasil", "Outcome"),
    "decide.reason": ("Alasan", "Reason"),
    "decide.data": ("Data (JSON)", "Data (JSON)"),
    "decide.submit": ("Kirim keputusan", "Submit decision"),
    "decide.targets": ("Target SKP", "SKP targets"),
    "decide.indicator": ("Indikator", "Indicator"),
    "decide.target": ("Target", "Target"),
    "decide.add_target": ("Tambah target", "Add target"),
    "decide.hasil": ("Hasil kerja", "Work results"),
    "decide.perilaku": ("Perilaku kerja", "Work behaviour"),
    "bulk.title": ("Putusan massal", "Bulk decision"),
    "bulk.submit": ("Putuskan yang dipilih", "Decide selected"),
    "bulk.hint": ("Pilih tugas pada tabel, lalu satu hasil dan alasan untuk semuanya.", "Select tasks in the table, then one outcome and reason for all."),
    "case.title": ("Perkara", "Case"),
    "case.timeline": ("Riwayat peristiwa", "Event timeline"),
    "case.chain_ok": ("Rantai hash utuh", "Hash chain intact"),
    "case.chain_broken": ("Rantai hash rusak pada versi", "Hash chain broken at version"),
    "case.subject": ("Pegawai", "Employee"),
    "case.opened": ("Dibuka", "Opened"),
    "case.closed": ("Ditutup", "Closed"),
    "case.system": ("sistem", "system"),
    "me.title": ("Perkara dan kinerja saya", "My cases and performance"),
    "me.year": ("Tahun", "Year"),
    "me.start_evaluation": ("Mulai evaluasi kinerja saya", "Start my performance evaluation"),
    "me.cases": ("Perkara saya", "My cases"),
    "me.predicates": ("Predikat kinerja saya", "My performance predicates"),
    "me.career": ("Riwayat kepegawaian", "Career timeline"),
    "me.training": ("Jam pelatihan (JP)", "Training hours (JP)"),
    "me.training_none": ("Belum ada data pelatihan.", "No training records yet."),
    "audit.title": ("Penelusuran peristiwa", "Event search"),
    "audit.case": ("Perkara", "Case"),
    "audit.actor": ("NIP pelaku", "Actor NIP"),
    "audit.type": ("Jenis peristiwa", "Event type"),
    "audit.unit": ("Unit", "Unit"),
    "audit.from": ("Dari", "From"),
    "audit.to": ("Sampai", "To"),
    "audit.search": ("Cari", "Search"),
    "audit.verify": ("Verifikasi semua rantai", "Verify all chains"),
    "audit.export_jsonl": ("Ekspor JSONL", "Export JSONL"),
    "audit.export_csv": ("Ekspor CSV", "Export CSV"),
    "audit.more": ("Berikutnya", "Next page"),
    "col.position": ("Posisi", "Position"),
    "col.time": ("Waktu", "Time"),
    "col.type": ("Peristiwa", "Event"),
    "col.actor": ("Pelaku", "Actor"),
    "col.case": ("Perkara", "Case"),
    "col.hash": ("Hash", "Hash"),
    "dash.title": ("Dasbor", "Dashboards"),
    "dash.waiting": ("Tugas menunggu per unit", "Tasks waiting per unit"),
    "dash.open": ("terbuka", "open"),
    "dash.overdue": ("terlambat", "late"),
    "dash.oldest": ("menunggu sejak", "waiting since"),
    "dash.predicates": ("Distribusi predikat terhadap kuota", "Predicate distribution against the quota"),
    "dash.predicates_hint": ("Per unit: predikat akhir setelah kalibrasi; merah bila melanggar kuota.", "Per unit: final predicates after calibration; red where the quota is broken."),
    "dash.training": ("Kepatuhan 20 JP per unit", "20 JP compliance per unit"),
    "dash.promotion": ("Alur kenaikan pangkat per tahap", "Promotion pipeline per stage"),
    "dash.complaints": ("Layanan pengaduan: dalam standar layanan", "Complaints: share within service levels"),
    "dash.none": ("Belum ada data.", "No data yet."),
    "dash.processes": ("Perkara per proses", "Cases per process"),
    "error.signin": ("Silakan masuk terlebih dahulu.", "Please sign in first."),
}


def choose_language(request: Request) -> str:
    """?lang=, then the `lang` cookie, then Accept-Language; Indonesian by default."""
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    if asked in LANGS:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    en, idn = accept.find("en"), accept.find("id")
    return "en" if en != -1 and (idn == -1 or en < idn) else "id"


def texts(lang: str) -> dict[str, str]:
    """All texts in one language (for templates and the page's script)."""
    index = LANGS.index(lang)
    return {key: pair[index] for key, pair in TEXTS.items()}
