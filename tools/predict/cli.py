"""au-predict: Action Unit probabilities of every face in images, folders and videos, from a net
trained with this project, into a per-frame CSV like OpenFace's.

For each image it finds every face and its landmarks (dlib); in a video it follows the faces it has
found from frame to frame, keeping each one's face_id, and searches the whole frame only every
--detect-every frames (tools/predict/tracking.py). It aligns each face exactly as the training data
was aligned (data_prep/faces/align.py), and runs the deploy net in batches. The model
card beside the weights (runs/<name>.model.json, written by `make train`) gives the AU list, the
alignment and the input preprocessing; au-predict refuses a card that disagrees with the weights
or the deploy net.
"""
import argparse
import os
import sys
import time

from tqdm import tqdm

from data_prep.faces.detect import MODEL_FILES, Landmarker
from dscmr.aus import parse_au_list
from dscmr.errors import cli
from tools.predict import sources
from tools.predict.annotate import Annotator
from tools.predict.batch import Batcher
from tools.predict.model import AUModel
from tools.predict.table import CsvOut
from tools.predict.tracking import Tracker

EPILOG = """examples:
  au-predict --weights runs/ldscmr_iter_6000.caffemodel photo.jpg --out photo_aus.csv
  au-predict --weights runs/ldscmr_iter_6000.caffemodel photos/ interview.mp4 --out aus.csv \\
      --annotate annotated/ --threshold 0.4
  au-predict --weights ck.caffemodel --model-card runs/ckplus.model.json --deploy prototxt/ck/ldscmr_deploy.prototxt \\
      --aus 6,12 faces/ --out smiles.csv

output: one row per face per frame (file, frame, face_id, timestamp, success, confidence, bbox_x,
bbox_y, bbox_w, bbox_h, AUxx_p..., AUxx_c...), sorted by file, frame and face_id; a frame without a
face gets one row with success 0. face_id: in an image, 0 is the most confident face; in a video, a
face keeps its id while it stays in view, and one that leaves and comes back gets a new id. Details:
docs/predict.md.

exit status: 0 when at least one input was read (unreadable ones are listed on stderr); 1 when
none could be (no CSV is written then); 2 for bad arguments or a model card that does not fit.
"""


def probability(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability between 0 and 1, got {text}")
    return value


def parser():
    ap = argparse.ArgumentParser(prog="au-predict", description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="image files, video files (anything OpenCV decodes) and folders (searched recursively "
                         "for known image and video extensions)")
    ap.add_argument("--out", "-o", required=True, help="the CSV to write (written when the run completes)")
    m = ap.add_argument_group("the model")
    m.add_argument("--weights", required=True, help="a .caffemodel, e.g. runs/ldscmr_iter_6000.caffemodel")
    m.add_argument("--model-card", help="its model card (default: beside the weights, "
                                        "runs/ldscmr_iter_6000.caffemodel -> runs/ldscmr.model.json)")
    m.add_argument("--deploy", help="the deploy prototxt (default: the one the model card names)")
    m.add_argument("--aus", type=parse_au_list,
                   help="the AUs to report, in this order, e.g. 6,12 (default: all the model's AUs, as its card lists them)")
    m.add_argument("--threshold", type=probability, default=0.5,
                   help="probability at or above which AUxx_c is 1 (default: %(default)s)")
    m.add_argument("--batch-size", type=int, default=16, help="faces per forward pass (default: %(default)s)")
    d = ap.add_argument_group("face detection")
    d.add_argument("--landmarker", choices=sorted(MODEL_FILES),
                   help="dlib's 68-point model (iBUG 300-W licence: non-commercial research only) or its 5-point "
                        "model (default: the one the training data was aligned with, as the model card records)")
    d.add_argument("--upsample", type=int, default=1,
                   help="times dlib's HOG detector doubles the frame to find small faces: 0 is several times "
                        "faster and finds faces from about 80 px (default: %(default)s, from about 40 px)")
    d.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                   help="lowest detector score (dlib's HOG SVM margin) kept as a face (default: %(default)s, "
                        "between the false hits measured, up to 0.17, and the real faces, from 0.80: "
                        "docs/predict.md; 0 keeps every detection dlib makes)")
    d.add_argument("--detect-every", type=int, default=DETECT_EVERY, metavar="K",
                   help="in a video, search the whole frame for faces every K frames and follow the faces found "
                        "in between (and search again when one is lost, or while none is followed); 1 searches "
                        "every frame: slower, and finds a face entering the frame at once rather than up to K-1 "
                        "frames late (default: %(default)s; docs/predict.md, \"Videos\")")
    o = ap.add_argument_group("other output")
    o.add_argument("--annotate", metavar="DIR",
                   help="also write each input with boxes and AU probability bars drawn: images as DIR/<name>.png, "
                        "videos as DIR/<name>.avi")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap


# docs/predict.md, "Which detections are faces": dlib's scores on the test photographs and videos.
MIN_CONFIDENCE = 0.5
# bench_predict.py on a Zen 3: 7.0 frames/s at 10, 6.0 at 5, 7.1 at 20 (4.4 at 1); at 25 frames/s a face
# that enters is found within 0.4 s (docs/predict.md, "Videos").
DETECT_EVERY = 10


class NothingRead(Exception):
    """No input gave a frame."""


class Run:
    """One au-predict run over its sources: rows to the CSV, frames to the annotator, counts."""

    def __init__(self, opts, model, landmarker, out):
        self.opts, self.model, self.landmarker, self.out = opts, model, landmarker, out
        self.tracker = Tracker(self.landmarker, opts.min_confidence, opts.detect_every)
        self.annotator = Annotator(opts.annotate, model.aus, opts.threshold) if opts.annotate else None
        self.batcher = Batcher(model, self.landmarker.align_kind, opts.batch_size, self.emit,
                               keep_images=self.annotator is not None)
        self.frames = self.faces = self.faceless = self.video_frames = 0

    def emit(self, frame, probs):
        self.frames += 1
        if not frame.faces:
            self.out.no_face(frame.file, frame.index, frame.timestamp)
            self.faceless += 1
        for (face_id, bbox, score), p in zip(frame.faces, probs):
            self.out.face(frame.file, frame.index, face_id, frame.timestamp, score, bbox, p)
            self.faces += p is not None
        if self.annotator:
            self.annotator.frame(frame.image, [(i, bbox, p) for (i, bbox, _), p in zip(frame.faces, probs)])

    def source(self, source, bar):
        """Reads one source (raises sources.Unreadable)."""
        opened = sources.open_source(source)
        if self.annotator:
            self.annotator.start(source.path, opened.kind, opened.fps)
        self.tracker.reset()
        try:
            for index, timestamp, image in opened.frames:
                if opened.kind == "video":
                    found = [(f.face_id, f.box, f.score, f.landmarks) for f in self.tracker.faces(image)]
                    self.video_frames += 1
                else:
                    found = [(face_id, *face) for face_id, face in
                             enumerate(self.landmarker.faces(image, self.opts.min_confidence))]
                self.batcher.add(source.path, index, timestamp, image, found)
                bar.update(1)
        finally:
            self.batcher.flush()
            if self.annotator:
                self.annotator.close()


@cli("au-predict")
def main(argv=None):
    opts = parser().parse_args(argv)
    if opts.batch_size < 1:
        parser().error("--batch-size must be at least 1")
    if opts.detect_every < 1:
        parser().error("--detect-every must be at least 1")
    # dlib's models (about a second) load while Caffe's probe builds the net in its own process; not in
    # a thread beside the net's loading here: dlib holds the GIL as it loads (DSCMR: 1.5-1.9 s so, 1.1-1.4 s
    # this way).
    model = AUModel(opts.weights, opts.deploy, opts.model_card, opts.aus,
                    meanwhile=lambda card: Landmarker(opts.landmarker or card["alignment"].get("landmarker", "dlib68"),
                                                      opts.upsample))
    landmarker = model.meanwhile
    todo, unreadable = sources.expand(opts.inputs)
    for path, why in unreadable:
        print(f"au-predict: {path}: {why}", file=sys.stderr)
    t0 = time.time()
    read = 0
    try:
        with CsvOut(opts.out, model.aus, opts.threshold) as out:
            run = Run(opts, model, landmarker, out)
            bar = tqdm(total=sum(map(sources.frame_count, todo)), unit="frame", desc="au-predict",
                       disable=opts.no_progress, dynamic_ncols=True, mininterval=0.5)
            with bar:
                for source in todo:
                    try:
                        run.source(source, bar)
                        read += 1
                    except sources.Unreadable as e:
                        unreadable.append((source.path, str(e)))
                        tqdm.write(f"au-predict: {source.path}: {e}", file=sys.stderr)
            if not read:
                raise NothingRead()
    except NothingRead:
        print(f"au-predict: no input could be read ({len(unreadable)} tried); no CSV written", file=sys.stderr)
        return 1
    seconds = time.time() - t0
    print(f"au-predict: {run.frames} frames from {read} inputs in {seconds:.1f} s "
          f"({run.frames / max(seconds, 1e-9):.1f} frames/s); faces: {run.faces}; frames without a face: "
          f"{run.faceless}" + (f"; whole-frame face searches: {run.tracker.searches} in {run.video_frames} video frames"
                                if run.video_frames else "") + f" -> {os.path.abspath(opts.out)}", file=sys.stderr)
    if unreadable:
        print(f"au-predict: {len(unreadable)} inputs could not be read:", file=sys.stderr)
        for path, why in unreadable:
            print(f"  {path}: {why}", file=sys.stderr)
    return 0
