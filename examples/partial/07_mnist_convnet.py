"""student-partial on notebook 07: the seed's .view(320) kept, a per-batch-mean evaluation, a correct epoch.

The network cannot take a batch, so the (locked) training cell stops at its first evaluation, in
about a second, and the trained-model check finds the same lost batch dimension.
"""

EXPECTED_SCORE = 3.0  # train_one_epoch 3
EXPECTED_TAGS = {
    "test_MNISTConvNet": "batch-dimension-lost",
    "test_evaluate": "evaluate-wrong",
    "test_model": "batch-dimension-lost",
}

ANSWERS = {
    "train_one_epoch": "solution",
    # The seed's forward, with the ReLU added but its .view(320) kept: one image at a time only.
    "MNISTConvNet": '''
class MNISTConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x))).view(320)
        x = F.relu(self.fc1(x))
        return self.fc2(x)
''',
    # The mean of per-batch accuracies: wrong whenever the last batch is smaller.
    "evaluate": '''
def evaluate(model, loader, device):
    model.eval()
    accuracies = []
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            accuracies.append((model(x).argmax(dim=1) == y).float().mean().item())
    return sum(accuracies) / len(accuracies)
''',
}
