"""The tutorial's first model: fit y = 2x + 1 with one Linear layer, MSE and SGD.

Written exactly as for PyTorch; only the import differs."""
import gradcore as torch
import gradcore.nn as nn

torch.manual_seed(0)
x = torch.linspace(-1, 1, 100).unsqueeze(1)
y = 2 * x + 1 + 0.05 * torch.randn(100, 1)

model = nn.Linear(1, 1)
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

for epoch in range(200):
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    if epoch % 50 == 0 or epoch == 199:
        print(f"epoch {epoch:3d}  loss {loss.item():.5f}")

w, b = model.weight.item(), model.bias.item()
print(f"learned y = {w:.3f} x + {b:.3f}  (true: y = 2x + 1)")
