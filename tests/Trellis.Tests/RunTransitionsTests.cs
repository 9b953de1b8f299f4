using Trellis.Storage;

namespace Trellis.Tests;

/// <summary>The table of run transitions covers every outcome a worker writes (the store conformance suite checks each one).</summary>
public class RunTransitionsTests
{
    [Fact]
    public void TheTable_HasOneTransitionPerKind_InTheOrderOfTheKinds()
    {
        Assert.Equal(Enum.GetValues<RunTransitionKind>(), RunTransitions.All.Select(t => t.Kind));
        Assert.All(Enum.GetValues<RunFinishKind>(), kind => Assert.Equal(kind.ToString(), RunTransitions.Of(kind).Kind.ToString()));
    }
}
