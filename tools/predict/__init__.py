"""au-predict (docs/predict.md): AU probabilities of the faces in images and videos, from a trained net."""
