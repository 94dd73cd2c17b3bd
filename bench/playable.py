"""Is an HLS package playable yet? What a player needs to start: master.m3u8, every playlist it names,
each naming at least one segment, and each playlist's init segment and first media segment complete
and decodable. listing() answers from the file system alone (cheap enough to poll); decodes() runs
ffprobe on init + first segment of one track.

Is the whole lecture seekable yet? seekable() answers, also from the files alone: the top rung's
playlist (the master's highest RESOLUTION) lists segments adding up to the source's duration, and
every one of them is there; last_track() makes its last segment something decodes() can check."""
import json
import os
import re
import subprocess
import tempfile

MASTER = "master.m3u8"
_URI = re.compile(r'URI="([^"]*)"')
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


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


def stream_variants(text):
    """Each EXT-X-STREAM-INF of a master: its URI, RESOLUTION as (width, height) or None, BANDWIDTH,
    CODECS; in the master's order."""
    out, lines = [], [x.strip() for x in text.splitlines()]
    for i, line in enumerate(lines):
        if not line.startswith("#EXT-X-STREAM-INF:"):
            continue
        attrs = {k: v.strip('"') for k, v in _ATTR.findall(line[len("#EXT-X-STREAM-INF:"):])}
        uri = next((x for x in lines[i + 1:] if x and not x.startswith("#")), None)
        res = None
        try:
            w, h = attrs.get("RESOLUTION", "").lower().split("x")
            res = (int(w), int(h))
        except ValueError:
            pass
        try:
            bandwidth = int(attrs.get("BANDWIDTH", ""))
        except ValueError:
            bandwidth = None
        out.append({"uri": uri, "resolution": res, "bandwidth": bandwidth, "codecs": attrs.get("CODECS")})
    return out


def top_variant(variants):
    """The variant with the most pixels (the larger BANDWIDTH between equals); None when none has a
    RESOLUTION."""
    sized = [v for v in variants if v["resolution"] and v["uri"]]
    if not sized:
        return None
    return max(sized, key=lambda v: (v["resolution"][0] * v["resolution"][1], v["bandwidth"] or 0))


class Seek:
    """seekable()'s answer: ok, or why not; the top rung's playlist, what it lists and how far it goes."""

    def __init__(self, ok, why="", variants=(), playlist=None, init=None, segments=(), listed_s=None):
        self.ok, self.why, self.variants = ok, why, list(variants)
        self.playlist, self.init, self.segments, self.listed_s = playlist, init, list(segments), listed_s

    def last_track(self):
        """The last listed segment as a Track (init + that segment), for decodes()."""
        duration, path = self.segments[-1]
        return Track(self.playlist, self.init, path, duration, len(self.segments), False)


def seekable(root, duration_s, frame_s):
    """Whether the top rung of the package under root lists the whole source: EXTINFs adding up to
    duration_s within one frame (frame_s), and every segment it lists, and its init, on disk."""
    root = os.path.abspath(root)
    master = os.path.join(root, MASTER)
    text = read_text(master)
    if text is None:
        return Seek(False, f"no {MASTER}")
    variants = stream_variants(text)
    top = top_variant(variants)
    if top is None:
        return Seek(False, f"{MASTER} names no variant with a RESOLUTION", variants)
    path = _inside(root, master, top["uri"])
    body = None if path is None else read_text(path)
    if body is None:
        return Seek(False, f"{top['uri']} does not exist", variants)
    init_uri, entries, _ = media_entries(body)
    init = _inside(root, path, init_uri) if init_uri else None
    if init is None or not os.path.isfile(init):
        return Seek(False, f"{top['uri']}: no init segment on disk", variants, path)
    if any(d is None for d, _ in entries):
        return Seek(False, f"{top['uri']}: a segment without an EXTINF duration", variants, path, init)
    segments = [(d, _inside(root, path, uri)) for d, uri in entries]
    listed = sum(d for d, _ in segments)
    # EXTINFs are written to a microsecond: the slack is far below a frame.
    if not segments or listed + 1e-3 < duration_s - frame_s:
        return Seek(False, f"{top['uri']} lists {listed:.3f} s of {duration_s:.3f} s", variants, path, init,
                    segments, listed)
    for (_, p), (_, uri) in zip(segments, entries):
        if p is None or not os.path.isfile(p):
            return Seek(False, f"{top['uri']} names {uri}, which does not exist", variants, path, init, segments,
                        listed)
    return Seek(True, "", variants, path, init, segments, listed)


def listed_seconds(root):
    """EXTINF seconds each playlist the master names lists (relative path -> seconds), as far as readable."""
    root = os.path.abspath(root)
    master = os.path.join(root, MASTER)
    out = {}
    for uri in master_uris(read_text(master) or ""):
        path = _inside(root, master, uri)
        body = read_text(path) if path else None
        if body is not None:
            out[uri] = round(sum(d or 0 for d, _ in media_entries(body)[1]), 3)
    return out


def probe_source(ffprobe, path, timeout_s=60):
    """The source's video duration and frame duration (seconds), and the container's duration; None for
    what ffprobe does not say."""
    argv = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=duration,avg_frame_rate,r_frame_rate:format=duration", "-of", "json", path]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)

    def number(v):
        try:
            if isinstance(v, str) and "/" in v:
                n, d = v.split("/")
                return float(n) / float(d) if float(d) else None
            return float(v)
        except (TypeError, ValueError):
            return None

    try:
        doc = json.loads(p.stdout or "{}")
    except ValueError:
        doc = {}
    stream = (doc.get("streams") or [{}])[0]
    fps = number(stream.get("avg_frame_rate")) or number(stream.get("r_frame_rate"))
    container = number((doc.get("format") or {}).get("duration"))
    return {"duration_s": number(stream.get("duration")) or container, "frame_s": 1 / fps if fps else None,
            "container_duration_s": container}


def first_segments_decode(listed, ffprobe="ffprobe", scratch=None):
    """Decode init + first segment of every track of a listing; (ok, why, figures per track)."""
    figures = []
    for t in listed.tracks:
        ok, why, f = decodes(t, ffprobe, scratch=scratch)
        figures.append(f)
        if not ok:
            return False, why, figures
    return True, "", figures
