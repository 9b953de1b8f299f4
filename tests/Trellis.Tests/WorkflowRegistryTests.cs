namespace Trellis.Tests;

public class WorkflowRegistryTests
{
    [Fact]
    public void Add_WithoutAttribute_RegistersUnderClassNameAndVersionOne()
    {
        var registry = new WorkflowRegistry();

        var definition = registry.Add<PlainOrderWorkflow>();

        Assert.Equal(nameof(PlainOrderWorkflow), definition.Name);
        Assert.Equal(1, definition.Version);
        Assert.Equal(typeof(PlainOrderWorkflow), definition.WorkflowType);
        Assert.True(registry.TryGet(nameof(PlainOrderWorkflow), 1, out var found));
        Assert.Same(definition, found);
        Assert.Same(definition, registry.Get(typeof(PlainOrderWorkflow)));
    }

    [Fact]
    public void Add_WithWorkflowAttribute_UsesItsNameAndVersion()
    {
        var registry = new WorkflowRegistry();

        var definition = registry.Add<CustomNamedWorkflow>();

        Assert.Equal("custom", definition.Name);
        Assert.Equal(3, definition.Version);
        Assert.Equal("custom v3", definition.ToString());
        Assert.True(registry.TryGet("custom", 3, out _));
        Assert.False(registry.TryGet(nameof(CustomNamedWorkflow), null, out _));
        Assert.False(registry.TryGet("custom", 1, out _));
    }

    [Fact]
    public void Add_AttributeWithVersionOnly_KeepsClassName()
    {
        var registry = new WorkflowRegistry();

        var definition = registry.Add<VersionOnlyWorkflow>();

        Assert.Equal(nameof(VersionOnlyWorkflow), definition.Name);
        Assert.Equal(2, definition.Version);
    }

    [Fact]
    public void TryGet_NullVersion_ReturnsHighestVersion()
    {
        var registry = new WorkflowRegistry();
        var v2 = registry.Add<OrdersV2>();
        registry.Add<OrdersV1>();

        Assert.True(registry.TryGet("orders", null, out var latest));
        Assert.Same(v2, latest);
        Assert.Equal(typeof(OrdersV2), latest.WorkflowType);

        Assert.True(registry.TryGet("orders", 1, out var first));
        Assert.Equal(typeof(OrdersV1), first.WorkflowType);
    }

    [Fact]
    public void TryGet_UnknownName_ReturnsFalse()
    {
        var registry = new WorkflowRegistry();
        registry.Add<OrdersV1>();

        Assert.False(registry.TryGet("nope", null, out _));
        Assert.False(registry.TryGet("nope", 1, out _));
        Assert.False(registry.TryGet("orders", 7, out _));
    }

    [Fact]
    public void Add_SameClassTwice_IsHarmlessAndReturnsSameDefinition()
    {
        var registry = new WorkflowRegistry();

        var first = registry.Add<PlainOrderWorkflow>();
        var second = registry.Add<PlainOrderWorkflow>();

        Assert.Same(first, second);
        Assert.Single(registry.Definitions);
    }

    [Fact]
    public void Add_TwoClassesSameNameAndVersion_ThrowsNamingExistingClassAndWorkflow()
    {
        var registry = new WorkflowRegistry();
        registry.Add<DuplicateA>();

        var ex = Assert.Throws<ArgumentException>(() => registry.Add<DuplicateB>());

        Assert.Contains("dup", ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(DuplicateA), ex.Message, StringComparison.Ordinal);
        // The first registration stays in place.
        Assert.True(registry.TryGet("dup", 1, out var kept));
        Assert.Equal(typeof(DuplicateA), kept.WorkflowType);
    }

    [Fact]
    public void Add_TwoClassesSameNameAndVersion_MessageNamesBothClasses()
    {
        var registry = new WorkflowRegistry();
        registry.Add<DuplicateA>();

        var ex = Assert.Throws<ArgumentException>(() => registry.Add<DuplicateB>());

        // Whoever reads the error must learn both culprits, including the class being registered now.
        // WorkflowRegistry.Add names only the class already registered (existing.WorkflowType.FullName).
        Assert.Contains(nameof(DuplicateA), ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(DuplicateB), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_ClassNotDerivingFromWorkflow_ThrowsArgumentException()
    {
        var registry = new WorkflowRegistry();

        var ex = Assert.Throws<ArgumentException>(() => registry.Add<NotAWorkflow>());

        Assert.Contains(nameof(NotAWorkflow), ex.Message, StringComparison.Ordinal);
        Assert.Contains("Workflow<TInput, TOutput>", ex.Message, StringComparison.Ordinal);
        Assert.Empty(registry.Definitions);
    }

    [Fact]
    public void Add_AbstractWorkflow_ThrowsArgumentException()
    {
        var registry = new WorkflowRegistry();

        var ex = Assert.Throws<ArgumentException>(() => registry.Add<AbstractWorkflow>());

        Assert.Contains("abstract", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_VersionZero_ThrowsArgumentException()
    {
        var registry = new WorkflowRegistry();

        var ex = Assert.Throws<ArgumentException>(() => registry.Add<VersionZeroWorkflow>());

        Assert.Contains("version 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_NegativeMaxWorkerLosses_ThrowsNamingTheWorkflow()
    {
        var ex = Assert.Throws<ArgumentException>(() => new WorkflowRegistry().Add<NegativeLossesWorkflow>());

        Assert.Contains("'losses'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxWorkerLosses", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_MaxWorkerLossesOnTheAttribute_IsTheDefinitions_AndUnsetIsNull()
    {
        var registry = new WorkflowRegistry();

        Assert.Equal(0, registry.Add<NoLossesWorkflow>().MaxWorkerLosses);
        Assert.Null(registry.Add<VersionOnlyWorkflow>().MaxWorkerLosses);
    }

    [Fact]
    public void Add_DirectSubclass_DiscoversInputAndOutputTypes()
    {
        var definition = new WorkflowRegistry().Add<PlainOrderWorkflow>();

        Assert.Equal(typeof(OrderInput), definition.InputType);
        Assert.Equal(typeof(OrderResult), definition.OutputType);
    }

    [Fact]
    public void Add_IndirectSubclass_DiscoversInputAndOutputTypesFromBase()
    {
        var definition = new WorkflowRegistry().Add<DerivedWorkflow>();

        Assert.Equal(typeof(int), definition.InputType);
        Assert.Equal(typeof(string), definition.OutputType);
    }

    [Fact]
    public void Get_UnregisteredType_ThrowsUnknownWorkflowListingRegistered()
    {
        var registry = new WorkflowRegistry();
        registry.Add<OrdersV1>();

        var ex = Assert.Throws<UnknownWorkflowException>(() => registry.Get(typeof(PlainOrderWorkflow)));

        Assert.Contains("orders v1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Definitions_AreOrderedByNameThenVersion()
    {
        var registry = new WorkflowRegistry();
        registry.Add<OrdersV2>();
        registry.Add<PlainOrderWorkflow>();
        registry.Add<OrdersV1>();

        var listed = registry.Definitions.Select(d => d.ToString()).ToList();

        Assert.Equal([$"{nameof(PlainOrderWorkflow)} v1", "orders v1", "orders v2"], listed);
    }

    [Fact]
    public void ValidateInput_JsonOfWrongShape_ThrowsInvalidRunInputNamingInputType()
    {
        var definition = new WorkflowRegistry().Add<PlainOrderWorkflow>();

        var ex = Assert.Throws<InvalidRunInputException>(() =>
            definition.ValidateInput("""{"orderId":"A-1","quantity":"lots"}""", new TrellisSerializer()));

        Assert.Contains(nameof(OrderInput), ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(PlainOrderWorkflow), ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(ex.InnerException);
    }

    [Theory]
    [InlineData("[1, 2, 3]")]
    [InlineData("\"just text\"")]
    [InlineData("{\"orderId\":")]
    [InlineData("not json")]
    public void ValidateInput_JsonThatDoesNotFit_ThrowsInvalidRunInput(string json)
    {
        var definition = new WorkflowRegistry().Add<PlainOrderWorkflow>();

        var ex = Assert.Throws<InvalidRunInputException>(() => definition.ValidateInput(json, new TrellisSerializer()));

        Assert.Contains(nameof(OrderInput), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"orderId":"A-1","quantity":3}""")]
    [InlineData("""{"OrderId":"A-1","Quantity":3}""")]
    public void ValidateInput_FittingJson_DoesNotThrow(string json)
    {
        var definition = new WorkflowRegistry().Add<PlainOrderWorkflow>();

        var ex = Record.Exception(() => definition.ValidateInput(json, new TrellisSerializer()));

        Assert.Null(ex);
    }

    [Fact]
    public void ValidateInput_MemberTheTypeDoesNotHave_IsRefusedNamingItsPath()
    {
        var definition = new WorkflowRegistry().Add<PlainOrderWorkflow>();

        var ex = Assert.Throws<InvalidRunInputException>(() => definition.ValidateInput("""{"OrderId":"A-1","Quantity":3,"extra":true}""", new TrellisSerializer()));

        Assert.Contains("$.extra", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateInput_PrimitiveInputType_RejectsObjectAndAcceptsNumber()
    {
        var definition = new WorkflowRegistry().Add<DerivedWorkflow>();
        var serializer = new TrellisSerializer();

        Assert.Null(Record.Exception(() => definition.ValidateInput("42", serializer)));
        var ex = Assert.Throws<InvalidRunInputException>(() => definition.ValidateInput("{}", serializer));
        Assert.Contains("Int32", ex.Message, StringComparison.Ordinal);
    }

    public sealed record OrderInput(string OrderId, int Quantity);

    public sealed record OrderResult(string OrderId, bool Shipped);

    public sealed class PlainOrderWorkflow : Workflow<OrderInput, OrderResult>
    {
        public override Task<OrderResult> RunAsync(WorkflowContext context, OrderInput input) =>
            Task.FromResult(new OrderResult(input.OrderId, true));
    }

    [Workflow("custom", Version = 3)]
    public sealed class CustomNamedWorkflow : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    [Workflow(Version = 2)]
    public sealed class VersionOnlyWorkflow : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    [Workflow("orders", Version = 1)]
    public sealed class OrdersV1 : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult("v1");
    }

    [Workflow("orders", Version = 2)]
    public sealed class OrdersV2 : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult("v2");
    }

    [Workflow("dup")]
    public sealed class DuplicateA : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult("a");
    }

    [Workflow("dup")]
    public sealed class DuplicateB : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult("b");
    }

    [Workflow("losses", MaxWorkerLosses = -1)]
    public sealed class NegativeLossesWorkflow : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    [Workflow("no-losses", MaxWorkerLosses = 0)]
    public sealed class NoLossesWorkflow : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    [Workflow("zero", Version = 0)]
    public sealed class VersionZeroWorkflow : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    public sealed class NotAWorkflow : IWorkflow
    {
    }

    public abstract class AbstractWorkflow : Workflow<string, string>
    {
    }

    public abstract class IntToStringBase : Workflow<int, string>
    {
    }

    public sealed class DerivedWorkflow : IntToStringBase
    {
        public override Task<string> RunAsync(WorkflowContext context, int input) => Task.FromResult(input.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
