"""Each frame's faces found and aligned as the training data was (data_prep/), and the forward
pass run over batches of faces gathered across frames, frames handed on in their order."""
from dataclasses import dataclass

from data_prep.faces.align import align_face


@dataclass
class Frame:
    file: str
    index: int
    timestamp: float
    image: object    # the frame, kept only for annotation (else None)
    faces: list      # [(face_id, (x, y, w, h), detector score)]: in an image best score first, in a video by id
    aligned: list    # per face: the aligned face, or None where alignment failed


class Batcher:
    """add() frames with their faces; emit(frame, probabilities per face (None where not aligned)) is
    called for every frame, in order, once the batch holding its faces has run (at the latest at flush())."""

    def __init__(self, model, align_kind, batch_size, emit, keep_images=False):
        self.model, self.align_kind, self.batch_size = model, align_kind, batch_size
        self.emit, self.keep_images = emit, keep_images
        self.pending, self.n_faces = [], 0

    def add(self, file, index, timestamp, image, found):
        """found: the frame's faces, [(face_id, (x, y, w, h), detector score, landmarks)]."""
        faces, aligned = [], []
        for face_id, bbox, score, landmarks in found:
            faces.append((face_id, bbox, score))
            try:
                aligned.append(align_face(image, landmarks, self.align_kind)[0])
            except ValueError:   # degenerate landmarks: the face is reported with success 0
                aligned.append(None)
        self.pending.append(Frame(file, index, timestamp, image if self.keep_images else None, faces, aligned))
        self.n_faces += sum(a is not None for a in aligned)
        if self.n_faces >= self.batch_size or len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self):
        faces = [a for frame in self.pending for a in frame.aligned if a is not None]
        probs = iter([row for i in range(0, len(faces), self.batch_size)
                      for row in self.model.predict(faces[i:i + self.batch_size])])
        for frame in self.pending:
            self.emit(frame, [None if a is None else next(probs) for a in frame.aligned])
        self.pending, self.n_faces = [], 0
