"""Is an HLS package playable yet? What a player needs to start: master.m3u8, every playlist it names,
each naming at least one segment, and each playlist's init segment and first media segment complete
and decodable. listing() answers from the file system alone (cheap enough to poll); decodes() runs
ffprobe on init + first segment of one track."""
import json
import os
import re
import subprocess
import tempfile

MASTER = "master.m3u8"
_URI = re.compile(r'URI="([^"]*)"')


class Track:
    """One media playlist as a player starts it: the playlist, its init segment and its first segment."""

    def __init__(self, playlist, init, first, first_duration_s, segments, ended, target_duration=None):
        self.playlist, self.init, self.first = playlist, init, first
        self.first_duration_s, self.segments, self.ended = first_duration_s, segments, ended
        self.target_duration = target_duration

    def as_json(self, root):
        rel = lambda p: os.path.relpath(p, root)  # noqa: E731
        return {"playlist": rel(self.playlist), "init": rel(self.init), "first": rel(self.first),
                "first_duration_s": self.first_duration_s, "segments": self.segments, "ended": self.ended}


class Listing:
    """listing()'s answer: ok, or why not (the first thing missing), and the tracks seen."""

    def __init__(self, ok, why="", tracks=(), has_mpd=False):
        self.ok, self.why, self.tracks, self.has_mpd = ok, why, list(tracks), has_mpd


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _inside(root, base, uri):
    """uri resolved against base's folder, or None when it leaves root or is not a relative path."""
    if not uri or "://" in uri or uri.startswith("/"):
        return None
    path = os.path.normpath(os.path.join(os.path.dirname(base), uri))
    return path if os.path.commonpath([root, path]) == root else None


def master_uris(text):
    """The playlists a master names: the URI of each EXT-X-MEDIA and the line after each EXT-X-STREAM-INF."""
    uris, lines = [], [x.strip() for x in text.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-MEDIA:"):
            m = _URI.search(line)
            if m:
                uris.append(m.group(1))
        elif line.startswith("#EXT-X-STREAM-INF:"):
            nxt = next((x for x in lines[i + 1:] if x and not x.startswith("#")), None)
            if nxt:
                uris.append(nxt)
    return list(dict.fromkeys(uris))


def media_entries(text):
    """(init URI or None, [(EXTINF seconds, segment URI)], ENDLIST seen) of a media playlist."""
    init, segments, ended, duration = None, [], False, None
    for line in (x.strip() for x in text.splitlines()):
        if line.startswith("#EXT-X-MAP:"):
            m = _URI.search(line)
            init = m.group(1) if m else None
        elif line.startswith("#EXTINF:"):
            try:
                duration = float(line[len("#EXTINF:"):].split(",")[0])
            except ValueError:
                duration = None
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            segments.append((duration, line))
            duration = None
    return init, segments, ended


def target_duration(text):
    """EXT-X-TARGETDURATION of a media playlist, None when it has none."""
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            try:
                return int(line.split(":", 1)[1].strip())
            except ValueError:
                return None
    return None


def listing(root):
    """Whether the package under root is playable as far as files and playlists go."""
    root = os.path.abspath(root)
    has_mpd = os.path.exists(os.path.join(root, "manifest.mpd"))
    master = os.path.join(root, MASTER)
    text = read_text(master)
    if text is None:
        return Listing(False, f"no {MASTER}", has_mpd=has_mpd)
    uris = master_uris(text)
    if not uris:
        return Listing(False, f"{MASTER} names no playlist", has_mpd=has_mpd)
    tracks = []
    for uri in uris:
        path = _inside(root, master, uri)
        if path is None:
            return Listing(False, f"{MASTER} names {uri!r}, not a file of the package", tracks, has_mpd)
        body = read_text(path)
        if body is None:
            return Listing(False, f"{uri} does not exist", tracks, has_mpd)
        init_uri, segments, ended = media_entries(body)
        if not segments:
            return Listing(False, f"{uri} names no segment", tracks, has_mpd)
        if init_uri is None:
            return Listing(False, f"{uri} names no init segment (EXT-X-MAP)", tracks, has_mpd)
        init, first = _inside(root, path, init_uri), _inside(root, path, segments[0][1])
        for name, p in ((init_uri, init), (segments[0][1], first)):
            if p is None or not os.path.isfile(p):
                return Listing(False, f"{uri} names {name}, which does not exist", tracks, has_mpd)
        tracks.append(Track(path, init, first, segments[0][0], len(segments), ended, target_duration(body)))
    return Listing(True, "", tracks, has_mpd)


def decodes(track, ffprobe="ffprobe", timeout_s=120, scratch=None):
    """(ok, why, figures): init + first segment concatenated, demuxed and decoded by ffprobe without an
    error, every packet decoded, and the packets' durations adding up to the playlist's EXTINF."""
    with tempfile.NamedTemporaryFile(prefix="first-", suffix=".mp4", dir=scratch) as tmp:
        for part in (track.init, track.first):
            with open(part, "rb") as f:
                tmp.write(f.read())
        tmp.flush()
        argv = [ffprobe, "-v", "error", "-count_frames", "-count_packets", "-show_entries",
                "stream=codec_type,nb_read_frames,nb_read_packets:packet=duration_time", "-of", "json", tmp.name]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False, f"ffprobe took longer than {timeout_s} s", {}
    name = os.path.relpath(track.first, os.path.dirname(os.path.dirname(track.first)))
    err = p.stderr.strip()
    if p.returncode != 0 or err:
        return False, f"{name}: ffprobe {p.returncode}: {err[:300]}", {}
    try:
        doc = json.loads(p.stdout)
        streams = doc["streams"]
        frames = sum(int(s.get("nb_read_frames") or 0) for s in streams)
        packets = sum(int(s.get("nb_read_packets") or 0) for s in streams)
        seconds = sum(float(x.get("duration_time") or 0) for x in doc.get("packets", []))
    except (ValueError, KeyError, TypeError) as e:
        return False, f"{name}: unreadable ffprobe output ({e})", {}
    figures = {"frames": frames, "packets": packets, "seconds": round(seconds, 6),
               "kinds": [s.get("codec_type") for s in streams]}
    if len(streams) != 1 or frames == 0:
        return False, f"{name}: {len(streams)} stream(s), {frames} frames decoded", figures
    # A decoder may hold back a frame or two (AAC priming); more missing means data that was not there.
    if frames + 2 < packets:
        return False, f"{name}: {packets} packets, only {frames} decoded", figures
    want = track.first_duration_s
    if want is not None and abs(seconds - want) > 0.1 + 0.02 * want:
        return False, f"{name}: {seconds:.3f} s of packets, the playlist says {want:.3f} s", figures
    return True, "", figures
