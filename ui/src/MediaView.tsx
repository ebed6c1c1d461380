// One file in the timeline: a picture, a PDF, a player for voice notes and call recordings, or a
// link. Loaded when it scrolls into view (a long timeline does not fetch every file at once),
// from the console core, which answers from this computer's copy when there is one.
import { useEffect, useRef, useState } from "react";
import { call, ConsoleError } from "./api";
import { shownAs, thumbnail, toBlob, type Shownfile } from "./media";

export function MediaView({ file }: { file: Shownfile }) {
  const [url, setUrl] = useState<string | null>(null);
  const [small, setSmall] = useState<{ url: string; width: number; height: number } | null>(null);
  const [type, setType] = useState(file.contentType);
  const [problem, setProblem] = useState<string | null>(null);
  const [visible, setVisible] = useState(typeof IntersectionObserver === "undefined");
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (visible || !box.current) return;
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setVisible(true);
    }, { rootMargin: "400px" });
    seen.observe(box.current);
    return () => seen.disconnect();
  }, [visible]);

  useEffect(() => {
    if (!visible) return;
    let objectUrl: string | null = null;
    let smallUrl: string | null = null;
    let gone = false;
    call({ cmd: "media", path: file.path }).then(
      async (data) => {
        if (gone) return;
        const full = URL.createObjectURL(toBlob(data));
        objectUrl = full;
        if (shownAs(data.content_type) === "image") {
          // The thumbnail first (a picture that cannot be decoded shows as it is).
          const made = await thumbnail(full).catch(() => null);
          if (gone) {
            if (made) URL.revokeObjectURL(made.url);
            return;
          }
          smallUrl = made?.url ?? null;
          setSmall(made);
        }
        setType(data.content_type);
        setUrl(full);
      },
      (e) => !gone && setProblem(e instanceof ConsoleError && e.kind === "offline" ? "Not available offline yet" : "Could not load the file"),
    );
    return () => {
      gone = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      if (smallUrl) URL.revokeObjectURL(smallUrl);
    };
  }, [visible, file.path]);

  const shown = shownAs(type === "audio/*" ? "audio/wav" : type);
  const name = file.filename ?? { image: "Photo", pdf: "PDF", audio: "Voice note", video: "Video", file: "File" }[shown];
  return (
    <div className={`media ${shown}`} ref={box} data-testid="media" data-shown={shown}>
      {problem ? (
        <span className="muted">{name}: {problem}</span>
      ) : !url ? (
        <span className="muted media-loading">{name}…</span>
      ) : shown === "image" ? (
        <img src={small?.url ?? url} width={small?.width} height={small?.height} alt={file.caption ?? name} loading="lazy" />
      ) : shown === "audio" ? (
        <audio controls src={url} aria-label={name} preload="metadata" />
      ) : shown === "video" ? (
        <video controls src={url} aria-label={name} preload="metadata" />
      ) : shown === "pdf" ? (
        <iframe src={url} title={name} />
      ) : null}
      {url ? <a className="media-name" href={url} download={file.filename ?? undefined}>{name}</a> : null}
    </div>
  );
}
