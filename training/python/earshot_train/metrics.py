"""The python-side check's scores (progress only: shipped figures come from `earshot eval`)."""
import numpy as np


def score(y_true, y_pred, n_classes):
    """Accuracy, UAR (mean recall over the classes present), n and the confusion matrix."""
    cm = np.zeros((n_classes, n_classes), int)
    for t, p in zip(y_true, y_pred):
        cm[t, p] += 1
    recalls = [cm[i, i] / cm[i].sum() for i in range(n_classes) if cm[i].sum() > 0]
    return {'accuracy': float(np.trace(cm) / max(1, cm.sum())), 'uar': float(np.mean(recalls)) if recalls else 0.0,
            'n': int(cm.sum()), 'confusion': cm.tolist()}
